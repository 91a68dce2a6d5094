# kubefacade as a container: the API server on 6443, kubeconfig written to /data/kubeconfig.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY facade ./facade
COPY storage ./storage
COPY controllers ./controllers
COPY runtime ./runtime
COPY conformance ./conformance
RUN pip install --no-cache-dir .
VOLUME /data
EXPOSE 6443 8080 8443
ENTRYPOINT ["kubefacade", "serve", "--host", "0.0.0.0", "--data-dir", "/data"]
