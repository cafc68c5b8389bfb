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
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime

# The aspnet image has no curl/wget; the HEALTHCHECK and the runbook's in-container checks need curl.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY --from=build /app ./

# HTTP (health, metrics, dashboard, jobs API) 4000; Orleans silo-to-silo 11111; Orleans client gateway 30000.
ENV ASPNETCORE_HTTP_PORTS=4000
EXPOSE 4000 11111 30000

# Non-root: the image's built-in `app` user.
USER $APP_UID

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://localhost:4000/health/live || exit 1

# SIGTERM starts the graceful drain (Worker__DrainTimeout); compose's stop_grace_period must exceed it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "OrleansWorker.Silo.dll"]
