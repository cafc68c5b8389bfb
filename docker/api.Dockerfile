# OrleansWorker HTTP API image (the `api` compose service; an Orleans client of the silos).
# Build context: the repository root:  docker build -f docker/api.Dockerfile .

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
RUN dotnet restore src/OrleansWorker.Api/OrleansWorker.Api.csproj

COPY src/ src/
RUN dotnet publish src/OrleansWorker.Api/OrleansWorker.Api.csproj -c Release -o /app --no-restore

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

# HTTP (health, metrics, jobs API) 3000.
ENV ASPNETCORE_HTTP_PORTS=3000
EXPOSE 3000

# Non-root: the image's built-in `app` user.
USER $APP_UID

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://localhost:3000/health/live || exit 1

# SIGTERM: stop accepting requests and finish in-flight ones.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "OrleansWorker.Api.dll"]
