"""Airflow DAG: the incremental metadata scan, nightly, on EMR (add a step, wait for it).

Needs apache-airflow-providers-amazon. Set the Airflow Variables avatar_train_emr_cluster_id and
avatar_train_bucket. ARGS is spark-submit/emr/steps-make-metadata.json's step, word for word (a test checks it);
YOUR-BUCKET is replaced by the bucket variable.
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor

BUCKET = "{{ var.value.avatar_train_bucket }}"

ARGS = [
    "spark-submit", "--deploy-mode", "cluster", "--master", "yarn",
    "--class", "dev.avatartrain.cli.Main",
    "--conf", "spark.executor.cores=4",
    "--conf", "spark.task.cpus=4",
    "--conf", "spark.executor.memory=8g",
    "--conf", "spark.dynamicAllocation.enabled=true",
    "s3://YOUR-BUCKET/jars/avatar-train-0.1.0-SNAPSHOT-cluster.jar",
    "make-metadata", "--mode", "scan",
    "--input", "s3a://YOUR-BUCKET/train-data/",
    "--output", "s3a://YOUR-BUCKET/train-data/metadata.parquet",
    "--incremental", "s3a://YOUR-BUCKET/train-data/metadata.parquet",
]

STEP = {
    "Name": "avatar-train make-metadata (incremental)",
    "ActionOnFailure": "CONTINUE",
    "HadoopJarStep": {
        "Jar": "command-runner.jar",
        "Args": [a.replace("YOUR-BUCKET", BUCKET) for a in ARGS],
    },
}

with DAG(
    dag_id="avatar_train_make_metadata",
    start_date=datetime(2026, 1, 1),
    schedule="15 2 * * *",
    catchup=False,
    max_active_runs=1,  # two scans must never race for the same output
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["avatar-train"],
) as dag:
    add = EmrAddStepsOperator(
        task_id="add_make_metadata_step",
        job_flow_id="{{ var.value.avatar_train_emr_cluster_id }}",
        steps=[STEP],
    )
    wait = EmrStepSensor(
        task_id="wait_for_make_metadata",
        job_flow_id="{{ var.value.avatar_train_emr_cluster_id }}",
        step_id="{{ task_instance.xcom_pull(task_ids='add_make_metadata_step')[0] }}",
        poke_interval=60,
        timeout=6 * 3600,
    )
    add >> wait
