#!/usr/bin/env bash
# Create or replace one environment's secrets in SSM Parameter Store (SecureString, the
# account's aws/ssm key) under /buyhive/ENVIRONMENT/. CloudFormation cannot create
# SecureString parameters, so this is the one step outside the templates; service.yaml's
# task definition reads them by these names, through its execution role.
#
#   deploy/aws/put-secrets.sh ENVIRONMENT [NAME ...]
#
# NAME defaults to the required ones: SECRET_KEY MONGODB_URI. Optional ones: SENTRY_DSN,
# GROQ_API_KEY, OPENAI_API_KEY, GOOGLE_WEB_CLIENT_SECRET (then set the matching *Enabled
# parameter of service.yaml to true), REDIS_URL (App Runner only).
# Each value is taken from the environment variable of the same name, else asked for without
# echo. SECRET_KEY is generated (64 random URL-safe characters) when neither is given and it
# is not stored yet, so rerunning never rotates it by accident (docs/runbook.md: rotation).
# Values go to the AWS CLI on stdin, never on its command line.
set -euo pipefail

environment=${1:?usage: put-secrets.sh staging|production [NAME ...]}
shift
case $environment in staging | production) ;; *)
  echo "ENVIRONMENT must be staging or production" >&2
  exit 2
  ;;
esac
if (($# == 0)); then set -- SECRET_KEY MONGODB_URI; fi

for name in "$@"; do
  case $name in
    SECRET_KEY | MONGODB_URI | REDIS_URL | SENTRY_DSN | GROQ_API_KEY | OPENAI_API_KEY | GOOGLE_WEB_CLIENT_SECRET) ;;
    *)
      echo "unknown secret name: $name" >&2
      exit 2
      ;;
  esac
  path=/buyhive/$environment/$name
  value=${!name:-}
  if [[ -z $value && $name == SECRET_KEY ]]; then
    if aws ssm get-parameter --name "$path" --query Parameter.Name --output text >/dev/null 2>&1; then
      echo "$path exists; kept (set SECRET_KEY to replace it)"
      continue
    fi
    value=$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')
  fi
  if [[ -z $value ]]; then
    read -rsp "$name for $environment: " value
    echo
  fi
  if [[ -z $value ]]; then
    echo "$name: empty value refused" >&2
    exit 1
  fi
  case $name in
    MONGODB_URI) [[ $value == mongodb://* || $value == mongodb+srv://* ]] || {
      echo "MONGODB_URI must start with mongodb:// or mongodb+srv://" >&2
      exit 1
    } ;;
    SECRET_KEY) ((${#value} >= 50)) || {
      echo "SECRET_KEY must be at least 50 characters" >&2
      exit 1
    } ;;
  esac
  printf '%s' "$value" | python3 -c '
import json, sys
print(json.dumps({"Name": sys.argv[1], "Value": sys.stdin.read(), "Type": "SecureString",
                  "Overwrite": True, "Tier": "Standard"}))' "$path" |
    aws ssm put-parameter --cli-input-json file:///dev/stdin --query Version --output text |
    sed "s|^|$path version |"
done
