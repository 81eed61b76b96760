#!/bin/bash
# EMR 7.x bootstrap action for GPU scheduling on YARN (EMR Release Guide, "Use the Nvidia RAPIDS Accelerator for
# Apache Spark", bootstrap action for 7.x): Amazon Linux 2023 mounts cgroup v2 only, while YARN's GPU isolation uses
# the cgroup v1 devices controller, so mount it at the path configurations.json names (/spark-rapids-cgroup).
set -ex
sudo mkdir -p /spark-rapids-cgroup/devices
sudo mount -t cgroup -o devices cgroupv1-devices /spark-rapids-cgroup/devices
sudo chmod a+rwx -R /spark-rapids-cgroup
