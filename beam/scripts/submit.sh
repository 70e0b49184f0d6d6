#!/usr/bin/env bash
# Submit a mixbatch config to an Apache Beam runner.
#
#   beam/scripts/submit.sh RUNNER CONFIG [extra flags for mixbatch-beam or Beam...]
#
# RUNNER is one of:
#   prism     Beam's local runner, in-process (no Java, no Docker).
#   flink     A Beam Flink job server at $BEAM_ENDPOINT (default localhost:8099), e.g.
#               docker run --net=host apache/beam_flink1.19_job_server:2.77.0 --flink-master=HOST:8081
#   spark     A Beam Spark job server at $BEAM_ENDPOINT (default localhost:8099), e.g.
#               docker run --net=host apache/beam_spark3_job_server:2.77.0 --spark-master-url=spark://HOST:7077
#   dataflow  Google Cloud Dataflow: needs $DATAFLOW_PROJECT, $DATAFLOW_REGION and
#             $DATAFLOW_STAGING (a gs:// folder for the staged worker binary).
#
# For flink and spark, $BEAM_ENVIRONMENT_TYPE picks how the task managers run the
# Go workers: DOCKER (the default; each task manager needs Docker and pulls
# $BEAM_ENVIRONMENT_CONFIG, default apache/beam_go_sdk:2.77.0), PROCESS (the Go
# SDK's boot program must be on every task manager: $BEAM_ENVIRONMENT_CONFIG is
# then '{"command": "/opt/apache/beam/boot"}' or where it is) or LOOPBACK (the
# workers run in this process: a job server on this machine only).
#
# Except with prism, input.paths and output.dir should be object-store URLs
# (s3://, gs://, azblob://) that every worker can reach with its own
# credentials (instance roles, workload identity): the workers read the row
# groups and write the part files themselves.
#
# The worker binary is built here for linux/amd64 ($WORKER_GOARCH to change it)
# and staged by Beam with --worker_binary. Extra arguments are passed on, e.g.
# --shards=64, --job_name=nightly, --parallelism=16 (Flink), --num_workers=10
# --max_num_workers=50 --worker_machine_type=n2-standard-4 (Dataflow), -v.
set -euo pipefail

if [ $# -lt 2 ]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
fi
runner=$1
config=$2
shift 2

module=$(cd "$(dirname "$0")/.." && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
(cd "$module" && go build -o "$build/mixbatch-beam" ./cmd/mixbatch-beam)
worker() {
	(cd "$module" && CGO_ENABLED=0 GOOS=linux GOARCH=${WORKER_GOARCH:-amd64} go build -o "$build/worker" ./cmd/mixbatch-beam)
	echo "--worker_binary=$build/worker"
}

case $runner in
prism)
	"$build/mixbatch-beam" --config "$config" --runner=prism "$@"
	;;
flink | spark)
	env_type=${BEAM_ENVIRONMENT_TYPE:-DOCKER}
	args=(--runner="$runner" --endpoint="${BEAM_ENDPOINT:-localhost:8099}" --environment_type="$env_type")
	case $env_type in
	DOCKER) args+=(--environment_config="${BEAM_ENVIRONMENT_CONFIG:-apache/beam_go_sdk:2.77.0}" "$(worker)") ;;
	PROCESS)
		: "${BEAM_ENVIRONMENT_CONFIG:?PROCESS needs BEAM_ENVIRONMENT_CONFIG, e.g. {\"command\": \"/opt/apache/beam/boot\"}}"
		args+=(--environment_config="$BEAM_ENVIRONMENT_CONFIG" "$(worker)")
		;;
	LOOPBACK) ;;
	*)
		echo "submit.sh: BEAM_ENVIRONMENT_TYPE must be DOCKER, PROCESS or LOOPBACK, got $env_type" >&2
		exit 2
		;;
	esac
	"$build/mixbatch-beam" --config "$config" "${args[@]}" "$@"
	;;
dataflow)
	: "${DATAFLOW_PROJECT:?set DATAFLOW_PROJECT}" "${DATAFLOW_REGION:?set DATAFLOW_REGION}" "${DATAFLOW_STAGING:?set DATAFLOW_STAGING to a gs:// folder}"
	"$build/mixbatch-beam" --config "$config" --runner=dataflow \
		--project="$DATAFLOW_PROJECT" --region="$DATAFLOW_REGION" \
		--staging_location="$DATAFLOW_STAGING" --temp_location="$DATAFLOW_STAGING/tmp" \
		"$(worker)" "$@"
	;;
*)
	echo "submit.sh: unknown runner $runner (want prism, flink, spark or dataflow)" >&2
	exit 2
	;;
esac
