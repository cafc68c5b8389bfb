#!/usr/bin/env bash
# Packs the OrleansWorker packages (Abstractions, Client, Server, AspNetCore, Cli) into a folder feed.
# Usage: scripts/pack.sh [FEED_DIR (default: artifacts/packages)] [VERSION (default: VersionPrefix of Directory.Build.props)]
set -euo pipefail
cd "$(dirname "$0")/.."
feed=${1:-artifacts/packages}
version=${2:-}
mkdir -p "$feed"
args=(-c Release -o "$feed" --nologo -v q)
[ -n "$version" ] && args+=("-p:Version=$version")
for project in Abstractions Client Server AspNetCore Cli; do
  dotnet pack "src/OrleansWorker.$project/OrleansWorker.$project.csproj" "${args[@]}"
done
ls "$feed"
