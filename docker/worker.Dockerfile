# OrleansWorker silo image (used by the `gateway` and `worker` compose services).
# Build context: the repository root:  docker build -f docker/worker.Dockerfile .

############################ build ############################
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /source

# Restore first, from the project files only, so the restore layer stays cached until a csproj or props file changes.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/OrleansWorker.Abstractions/OrleansWorker.Abstractions.csproj src/OrleansWorker.Abstractions/
COPY src/OrleansWorker.Server/OrleansWorker.Server.csproj src/OrleansWorker.Server/
COPY src/OrleansWorker.Client/OrleansWorker.Client.csproj src/OrleansWorker.Client/
COPY src/OrleansWorker.ServiceDefaults/OrleansWorker.ServiceDefaults.csproj src/OrleansWorker.ServiceDefaults/
COPY src/OrleansWorker.Silo/OrleansWorker.Silo.csproj src/OrleansWorker.Silo/
COPY src/OrleansWorker.Api/OrleansWorker.Api.csproj src/OrleansWorker.Api/
RUN dotnet restore src/OrleansWorker.Silo/OrleansWorker.Silo.csproj

COPY src/ src/
RUN dotnet publish src/OrleansWorker.Silo/OrleansWorker.Silo.csproj -c Release -o /app --no-restore

############################ runtime ############################
# Ubuntu 24.04 "noble", named: `10.0` is the same image today, but the package names below are noble's.
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS runtime

# The aspnet image has no curl, wget, nslookup or ps. curl: the HEALTHCHECK. busybox (one 0.8 MB binary, libc only):
# the runbook's in-container checks `wget`, `nslookup` and `ps`, linked by name into /usr/local/bin (first on PATH).
# GNU wget + bind9-dnsutils + procps would add ~14 MB of binaries and libraries for the same three commands.
# iputils-ping (121 kB; depends on libcap2-bin for setcap, libcap2, libidn2-0: each small) for the runbook's
# `ping -c 3 api`/`ping -c 3 tempo`: busybox ping needs a raw socket or ping_group_range, so it fails as the non-root `app` user;
# iputils' ping carries the cap_net_raw file capability (set by its postinst) and works as `app`.
# docs/runbook.md lists what the image has; tests/OrleansWorker.Tests/Processes/RunbookCommandsTests.cs runs the
# runbook's in-container commands with these packages and links.
ARG RUNBOOK_APPLETS="wget nslookup ps"
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl busybox iputils-ping \
    && for applet in $RUNBOOK_APPLETS; do ln -s /bin/busybox "/usr/local/bin/$applet"; done \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY --from=build /app ./

# HTTP (health, metrics, dashboard, jobs API) 4000; Orleans silo-to-silo 11111; Orleans client gateway 30000.
ENV ASPNETCORE_HTTP_PORTS=4000
# The JIT's tier-up without its start-up delay: by default a method's calls are counted for promotion to optimized code
# only after 100 ms with no new method compiled, and a silo compiles new methods for a long while (Orleans, the job
# paths), so a fresh silo still ran part of its jobs on unoptimized code 10-20 s after start. Measured (docs/benchmarks.md,
# 2026-11-29 night): +10-12 % jobs/s in the first 50,000-120,000 jobs after start, ≈ 0.3 s longer start-up, the same once warm. An
# environment variable only: the runtime reads this setting from nowhere else. Also in the Silo project's launch profile.
ENV DOTNET_TC_CallCountingDelayMs=0
EXPOSE 4000 11111 30000

# Non-root: the image's built-in `app` user.
USER $APP_UID

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://localhost:4000/health/live || exit 1

# SIGTERM starts the graceful drain (Worker__DrainTimeout); compose's stop_grace_period must exceed it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "OrleansWorker.Silo.dll"]
