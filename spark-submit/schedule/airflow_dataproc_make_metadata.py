"""Airflow DAG: the incremental metadata scan, nightly, on an existing Dataproc 2.2 cluster.

Needs apache-airflow-providers-google. Set the Airflow Variables avatar_train_gcp_project, avatar_train_region,
avatar_train_dataproc_cluster and avatar_train_bucket. ARGS and PROPERTIES are the make-metadata job of
spark-submit/schedule/dataproc-workflow.yaml, word for word (a test checks it); YOUR-BUCKET is replaced by the
bucket variable.
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.google.cloud.operators.dataproc import DataprocSubmitJobOperator

BUCKET = "{{ var.value.avatar_train_bucket }}"
JAR = "gs://YOUR-BUCKET/jars/avatar-train-0.1.0-SNAPSHOT-cluster.jar"

ARGS = [
    "make-metadata", "--mode", "scan",
    "--input", "gs://YOUR-BUCKET/train-data/",
    "--output", "gs://YOUR-BUCKET/train-data/metadata.parquet",
    "--incremental", "gs://YOUR-BUCKET/train-data/metadata.parquet",
]

PROPERTIES = {
    "spark.submit.deployMode": "cluster",
    "spark.speculation": "false",
    "spark.executor.cores": "4",
    "spark.task.cpus": "4",
    "spark.executorEnv.JAVA_HOME": "/usr/lib/jvm/temurin-17-jdk-amd64",
    "spark.yarn.appMasterEnv.JAVA_HOME": "/usr/lib/jvm/temurin-17-jdk-amd64",
}

JOB = {
    "reference": {"project_id": "{{ var.value.avatar_train_gcp_project }}"},
    "placement": {"cluster_name": "{{ var.value.avatar_train_dataproc_cluster }}"},
    "spark_job": {
        "main_class": "dev.avatartrain.cli.Main",
        "jar_file_uris": [JAR.replace("YOUR-BUCKET", BUCKET)],
        "args": [a.replace("YOUR-BUCKET", BUCKET) for a in ARGS],
        "properties": PROPERTIES,
    },
}

with DAG(
    dag_id="avatar_train_make_metadata_dataproc",
    start_date=datetime(2026, 1, 1),
    schedule="15 2 * * *",
    catchup=False,
    max_active_runs=1,  # two scans must never race for the same output
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["avatar-train"],
) as dag:
    DataprocSubmitJobOperator(
        task_id="make_metadata",
        project_id="{{ var.value.avatar_train_gcp_project }}",
        region="{{ var.value.avatar_train_region }}",
        job=JOB,
    )
