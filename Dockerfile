FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY channels ./channels
COPY widgets ./widgets
COPY flows ./flows
RUN pip install --no-cache-dir -e . && useradd --system --home /data threadline && mkdir -p /data \
    && chown threadline /data
USER threadline
ENV THREADLINE_DATA_DIR=/data THREADLINE_FLOWS_DIR=/app/flows
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["threadline", "serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data", "--flows", "/app/flows"]
