#!/usr/bin/env bash
# Build + Terraform, nothing else: Terraform is the only owner of the functions, their push
# subscriptions (retry + dead-letter policy), the scheduler job, datasets, IAM and alerts.
# This wrapper stages the functions (infra/build.sh) and runs terraform for one environment.
#
# Usage: infra/deploy.sh ENV [plan|apply|all]
#   plan   build, init, fmt -check, validate, plan -out=<ENV>.tfplan (saved, reviewable)
#   apply  apply the saved <ENV>.tfplan exactly (never re-plans; run plan first)
#   all    (default) plan, then apply that plan
#
# Environment files (infra/terraform/environments/, copy the *.example files; real ones are
# git-ignored): <ENV>.gcs.tfbackend (state bucket + prefix) and <ENV>.tfvars. Without them:
#   TF_STATE_BUCKET           state bucket (prefix pcf/<ENV>), instead of <ENV>.gcs.tfbackend
#   TF_VAR_<name>             variables, instead of <ENV>.tfvars (CI sets these)
# Other settings:
#   DRY_RUN=1                 print every command (one per line, shell-quoted) instead of running
#   TF_ENV_DIR                folder of the environment files (default infra/terraform/environments)
#   PYTHON                    interpreter with the project installed (default .venv/bin/python)
#   TERRAFORM                 terraform binary (default: terraform on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" # printed and executed paths are relative to the repo root
TF_DIR="infra/terraform"
TF_ENV_DIR="${TF_ENV_DIR:-$TF_DIR/environments}"
DRY_RUN="${DRY_RUN:-0}"
TERRAFORM="${TERRAFORM:-terraform}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

die() {
  echo "deploy.sh: error: $*" >&2
  exit 1
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" || $# -eq 0 ]]; then
  sed -n '2,22p' "${BASH_SOURCE[0]}"
  (($# > 0)) || exit 2
  exit 0
fi

ENV_NAME="$1"
MODE="${2:-all}"
[[ "$ENV_NAME" =~ ^[a-z][a-z0-9-]{0,20}$ ]] || die "environment '$ENV_NAME' is not a short lowercase name (dev, prod, ...)"
case "$MODE" in
  plan | apply | all) ;;
  *) die "unknown mode '$MODE' (plan|apply|all)" ;;
esac

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

BACKEND_FILE="$TF_ENV_DIR/$ENV_NAME.gcs.tfbackend"
VAR_FILE="$TF_ENV_DIR/$ENV_NAME.tfvars"
PLAN_FILE="$ENV_NAME.tfplan" # relative to infra/terraform (git-ignored)
TF=("$TERRAFORM" "-chdir=$TF_DIR")

backend_args=()
if [[ -f "$BACKEND_FILE" ]]; then
  backend_args=("-backend-config=$(realpath "$BACKEND_FILE")")
elif [[ -n "${TF_STATE_BUCKET:-}" ]]; then
  backend_args=("-backend-config=bucket=$TF_STATE_BUCKET" "-backend-config=prefix=pcf/$ENV_NAME")
else
  die "no state backend for '$ENV_NAME': create $BACKEND_FILE (copy $ENV_NAME.gcs.tfbackend.example beside it) or export TF_STATE_BUCKET"
fi
var_args=()
if [[ -f "$VAR_FILE" ]]; then
  var_args=("-var-file=$(realpath "$VAR_FILE")")
elif ! env | grep -q '^TF_VAR_project='; then
  die "no variables for '$ENV_NAME': create $VAR_FILE (from the .example) or export TF_VAR_project, TF_VAR_environment, TF_VAR_notification_channels"
fi

dry || command -v "$TERRAFORM" >/dev/null 2>&1 || die "terraform not found on PATH (set TERRAFORM=...)"

plan() {
  run env "PYTHON=$PYTHON" infra/build.sh
  run "${TF[@]}" init -input=false -reconfigure "${backend_args[@]}"
  run "${TF[@]}" fmt -check -recursive
  run "${TF[@]}" validate
  run "${TF[@]}" plan -input=false -lock-timeout=300s "${var_args[@]}" "-out=$PLAN_FILE"
}

apply() {
  dry || [[ -f "$TF_DIR/$PLAN_FILE" ]] || die "$TF_DIR/$PLAN_FILE not found: run 'infra/deploy.sh $ENV_NAME plan' first"
  run "${TF[@]}" apply -input=false -lock-timeout=300s "$PLAN_FILE"
}

case "$MODE" in
  plan) plan ;;
  apply) apply ;;
  all)
    plan
    apply
    ;;
esac
