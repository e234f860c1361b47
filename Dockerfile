# One image for every raylite service of docker-compose.yml: head, workers, drivers.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY raylite ./raylite
RUN pip install --no-cache-dir .
COPY examples ./examples
# session files and logs stay inside the container
ENV RAYLITE_TMPDIR=/tmp/raylite
