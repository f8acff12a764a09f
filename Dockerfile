# Airflow 3 with the claims-scrub pipeline installed (editable, so docker-compose can mount
# the working copy's pipeline/ and dags/ over it). Local use only; see README "Operations".
FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:root requirements.lock.txt /opt/claims-scrub/requirements.lock.txt
RUN pip install --no-cache-dir -r /opt/claims-scrub/requirements.lock.txt
COPY --chown=airflow:root pyproject.toml README.md /opt/claims-scrub/
COPY --chown=airflow:root pipeline /opt/claims-scrub/pipeline
COPY --chown=airflow:root dags /opt/claims-scrub/dags
COPY --chown=airflow:root scripts /opt/claims-scrub/scripts
RUN pip install --no-cache-dir --no-deps -e /opt/claims-scrub
# Folders the named volumes of docker-compose.yml start from (owned by the airflow user)
RUN mkdir -p /opt/airflow/keys /opt/airflow/seaweedfs/logs
