#!/usr/bin/env bash
# Deploy the staged functions (infra/build.sh → build/<function>/) with gcloud, attach the
# dead-letter/retry policy to each function's Eventarc subscription, and create/update the
# daily cleanup job. Every name, topic, limit and the schedule come from infra/topology.json;
# the functions' environment comes from shared.config.Settings (PCF_* variables you export
# override its defaults).
#
# Usage: infra/deploy.sh [all|functions|dead-letter|schedule] [function ...]
#   all          (default) functions, then dead-letter, then schedule
#   functions    gcloud functions deploy + invoker binding for the trigger service account
#   dead-letter  dead-letter topic, max attempts and backoff on each Eventarc subscription —
#                run this after a plain `terraform apply` too (the provider cannot set it)
#   schedule     create or update the Cloud Scheduler job
#
# Environment:
#   PCF_PROJECT, PCF_REGION   required: project id and region
#   DRY_RUN=1                 print every command (one per line, shell-quoted) instead of running
#   PCF_PROJECT_NUMBER        optional: skips the `gcloud projects describe` lookup
#   PROCESS_DATE_MAX_INSTANCES optional: process_date's ceiling (default: topology, 2 — BigQuery
#                             allows 2 concurrent mutating DML statements per table)
#   PYTHON                    interpreter with the project installed (default .venv/bin/python)
#   BUILD_DIR                 staged functions (default build, relative to the repo root)
#
# Prerequisite: `terraform apply` in infra/terraform created the topics, DLQs, service accounts,
# datasets and IAM this script refers to (see infra/README.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" # printed and executed paths are relative to the repo root
BUILD_DIR="${BUILD_DIR:-build}"
TOPOLOGY="infra/topology.json"
DRY_RUN="${DRY_RUN:-0}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

die() {
  echo "deploy.sh: error: $*" >&2
  exit 1
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,25p' "${BASH_SOURCE[0]}"
  exit 0
fi

[[ -n "${PCF_PROJECT:-}" ]] || die "PCF_PROJECT is not set: export PCF_PROJECT=<your Google Cloud project id>"
[[ -n "${PCF_REGION:-}" ]] || die "PCF_REGION is not set: export PCF_REGION=<region, e.g. us-central1>"
PROJECT="$PCF_PROJECT"
REGION="$PCF_REGION"

dry() { [[ "$DRY_RUN" == "1" ]]; }

# Shell-quote one word only when it needs it, so printed commands stay readable.
quote() {
  local word="$1"
  if [[ "$word" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$word"
  else
    printf "'%s'" "${word//\'/\'\\\'\'}"
  fi
}

print_cmd() {
  local out="" word
  for word in "$@"; do
    out+="${out:+ }$(quote "$word")"
  done
  printf '%s\n' "$out"
}

# Run a command (or, with DRY_RUN=1, print it).
run() {
  if dry; then
    print_cmd "$@"
  else
    print_cmd "$@" | sed 's/^/+ /' >&2
    "$@"
  fi
}

# lookup VAR PLACEHOLDER cmd...: VAR := the command's output (DRY_RUN: print it, use PLACEHOLDER).
lookup() {
  local var="$1" placeholder="$2" out
  shift 2
  if dry; then
    print_cmd "$@"
    out="$placeholder"
  else
    print_cmd "$@" | sed 's/^/+ /' >&2
    out="$("$@")"
  fi
  printf -v "$var" '%s' "$out"
}

# topo EXPR: evaluate a Python expression over the topology `t` (plain json, no jq needed).
topo() {
  "$PYTHON" -c 'import json, sys; t = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print("\n".join(map(str, v)) if isinstance(v, list) else v)' \
    "$TOPOLOGY" "$1"
}

command -v "$PYTHON" >/dev/null 2>&1 || die "python not found: $PYTHON (set PYTHON=...)"
dry || command -v gcloud >/dev/null 2>&1 || die "gcloud not found on PATH"

MODE="${1:-all}"
case "$MODE" in
  all | functions | dead-letter | schedule) (($# > 0)) && shift ;;
  *) die "unknown mode '$MODE' (all|functions|dead-letter|schedule)" ;;
esac

mapfile -t ALL_FUNCTIONS < <(topo 'list(t["functions"])')
if (($# > 0)); then FUNCTIONS=("$@"); else FUNCTIONS=("${ALL_FUNCTIONS[@]}"); fi
for fn in "${FUNCTIONS[@]}"; do
  [[ " ${ALL_FUNCTIONS[*]} " == *" $fn "* ]] || die "unknown function '$fn' (known: ${ALL_FUNCTIONS[*]})"
done

RUNTIME=python311
DLQ_SUFFIX="$(topo 't["delivery"]["dlq_suffix"]')"
MAX_ATTEMPTS="$(topo 't["delivery"]["max_delivery_attempts"]')"
MIN_BACKOFF="$(topo 't["delivery"]["minimum_backoff_seconds"]')s"
MAX_BACKOFF="$(topo 't["delivery"]["maximum_backoff_seconds"]')s"
ACK_DEADLINE="$(topo 't["delivery"]["ack_deadline_seconds"]')"

# Service accounts created by infra/terraform/iam.tf (same naming: pcf-<function with dashes>).
runtime_sa() { printf 'pcf-%s@%s.iam.gserviceaccount.com' "${1//_/-}" "$PROJECT"; }
trigger_sa() { printf 'pcf-%s-trg@%s.iam.gserviceaccount.com' "${1//_/-}" "$PROJECT"; }
BUILD_SA="projects/$PROJECT/serviceAccounts/pcf-functions-build@$PROJECT.iam.gserviceaccount.com"

# The functions' environment: every deployable Settings field as PCF_<FIELD>, written as YAML
# (a JSON string is a YAML scalar) because PCF_CLEANUP_TABLES holds commas.
ENV_FILE="$BUILD_DIR/pcf-env.yaml"
write_env_file() {
  mkdir -p "$BUILD_DIR"
  PCF_PROJECT="$PROJECT" PCF_REGION="$REGION" "$PYTHON" - "$ROOT" "$TOPOLOGY" "$ENV_FILE" <<'PY'
import json
import sys

root, topology_path, out = sys.argv[1:4]
sys.path.insert(0, root)
try:
    from shared.config import Settings
except ImportError as exc:  # pragma: no cover - message for humans
    sys.exit(f"deploy.sh: error: cannot import shared.config ({exc}); set PYTHON to the project venv")

# Local-only settings never go to the cloud (tests/infra keeps this list in step).
LOCAL_ONLY = {"data_dir", "local_workers", "bigquery_api_endpoint"}
settings = Settings()
topology = json.load(open(topology_path))
env = {}
for name in Settings.model_fields:
    if name in LOCAL_ONLY:
        continue
    value = getattr(settings, name)
    if isinstance(value, (list, dict)):
        value = json.dumps(value)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    env[f"PCF_{name.upper()}"] = str(value)
env["PCF_WAREHOUSE"] = f"bigquery://{settings.project}"
env["PCF_BUS"] = "pubsub"
# Topic names are the topology's (the triggers and IAM use the same ones).
for key, topic in topology["topics"].items():
    env[f"PCF_TOPIC_{key.upper()}"] = topic
with open(out, "w", encoding="utf-8") as fh:
    for key in sorted(env):
        fh.write(f"{key}: {json.dumps(env[key])}\n")
PY
}

deploy_functions() {
  local fn topic max_instances timeout memory
  for fn in "${FUNCTIONS[@]}"; do
    dry || [[ -f "$BUILD_DIR/$fn/main.py" ]] || die "$BUILD_DIR/$fn is not staged: run infra/build.sh (or make build) first"
    topic="$(topo "t['topics'][t['functions']['$fn']['trigger_topic']]")"
    max_instances="$(topo "t['functions']['$fn']['max_instances']")"
    if [[ "$fn" == "process_date" ]]; then
      max_instances="${PROCESS_DATE_MAX_INSTANCES:-$max_instances}"
    fi
    timeout="$(topo "t['functions']['$fn']['timeout_seconds']")s"
    memory="$(topo "t['functions']['$fn']['memory']")"

    run gcloud functions deploy "$fn" --gen2 \
      --project="$PROJECT" --region="$REGION" \
      --runtime="$RUNTIME" --source="$BUILD_DIR/$fn" --entry-point=handle \
      --trigger-topic="$topic" --trigger-location="$REGION" --retry \
      --run-service-account="$(runtime_sa "$fn")" \
      --trigger-service-account="$(trigger_sa "$fn")" \
      --build-service-account="$BUILD_SA" \
      --env-vars-file="$ENV_FILE" \
      --max-instances="$max_instances" --timeout="$timeout" --memory="$memory" \
      --ingress-settings=internal-only --no-allow-unauthenticated --quiet
    # Eventarc pushes with the trigger SA's token: it may invoke this function only.
    run gcloud functions add-invoker-policy-binding "$fn" \
      --project="$PROJECT" --region="$REGION" \
      --member="serviceAccount:$(trigger_sa "$fn")"
  done
}

# Eventarc owns each trigger's push subscription; Terraform's provider cannot set its dead-letter
# policy, so it is applied here (idempotent) after every deploy, which may recreate the trigger.
configure_dead_letters() {
  local number fn topic trigger subscription agent
  if [[ -n "${PCF_PROJECT_NUMBER:-}" ]]; then
    number="$PCF_PROJECT_NUMBER"
  else
    lookup number PROJECT_NUMBER \
      gcloud projects describe "$PROJECT" --format='value(projectNumber)'
  fi
  agent="serviceAccount:service-$number@gcp-sa-pubsub.iam.gserviceaccount.com"
  for fn in "${FUNCTIONS[@]}"; do
    topic="$(topo "t['topics'][t['functions']['$fn']['trigger_topic']]")"
    lookup trigger "projects/$PROJECT/locations/$REGION/triggers/$fn-dry-run" \
      gcloud functions describe "$fn" --project="$PROJECT" --region="$REGION" \
      --format='value(eventTrigger.trigger)'
    [[ -n "$trigger" ]] || die "function $fn has no Eventarc trigger (deploy it first)"
    lookup subscription "projects/$PROJECT/subscriptions/eventarc-$REGION-${fn//_/-}-dry-run" \
      gcloud eventarc triggers describe "$trigger" \
      --format='value(transport.pubsub.subscription)'
    [[ -n "$subscription" ]] || die "no Pub/Sub subscription found for trigger $trigger"
    run gcloud pubsub subscriptions update "$subscription" --project="$PROJECT" \
      --dead-letter-topic="projects/$PROJECT/topics/$topic$DLQ_SUFFIX" \
      --max-delivery-attempts="$MAX_ATTEMPTS" \
      --min-retry-delay="$MIN_BACKOFF" --max-retry-delay="$MAX_BACKOFF" \
      --ack-deadline="$ACK_DEADLINE"
    # The Pub/Sub service agent must ack on the source and publish to the DLQ to dead-letter.
    run gcloud pubsub subscriptions add-iam-policy-binding "$subscription" --project="$PROJECT" \
      --member="$agent" --role=roles/pubsub.subscriber
    run gcloud pubsub topics add-iam-policy-binding "$topic$DLQ_SUFFIX" --project="$PROJECT" \
      --member="$agent" --role=roles/pubsub.publisher
  done
}

apply_schedule() {
  local name topic body
  name="$(topo 't["schedule"]["name"]')"
  topic="$(topo 't["topics"][t["schedule"]["topic"]]')"
  body="$(topo 'json.dumps(t["schedule"]["body"])')"
  local -a flags=(
    --project="$PROJECT" --location="$REGION"
    --schedule="$(topo 't["schedule"]["cron"]')"
    --time-zone="$(topo 't["schedule"]["time_zone"]')"
    --topic="$topic"
    --message-body="$body"
    --description="$(topo 't["schedule"]["description"]')"
    --max-retry-attempts="$(topo 't["schedule"]["retry"]["retry_count"]')"
    --min-backoff="$(topo 't["schedule"]["retry"]["min_backoff_seconds"]')s"
    --max-backoff="$(topo 't["schedule"]["retry"]["max_backoff_seconds"]')s"
    --max-doublings="$(topo 't["schedule"]["retry"]["max_doublings"]')"
  )
  # attempt_deadline_seconds is not passed: Cloud Scheduler ignores it for Pub/Sub targets.
  if dry; then
    echo "# create the job if it does not exist, else update it:"
    run gcloud scheduler jobs describe "$name" --project="$PROJECT" --location="$REGION" --format='value(name)'
    run gcloud scheduler jobs create pubsub "$name" "${flags[@]}"
    run gcloud scheduler jobs update pubsub "$name" "${flags[@]}"
  elif run gcloud scheduler jobs describe "$name" --project="$PROJECT" --location="$REGION" \
    --format='value(name)' >/dev/null 2>&1; then
    run gcloud scheduler jobs update pubsub "$name" "${flags[@]}"
  else
    run gcloud scheduler jobs create pubsub "$name" "${flags[@]}"
  fi
}

case "$MODE" in
  all)
    write_env_file
    deploy_functions
    configure_dead_letters
    apply_schedule
    ;;
  functions)
    write_env_file
    deploy_functions
    ;;
  dead-letter) configure_dead_letters ;;
  schedule) apply_schedule ;;
esac
