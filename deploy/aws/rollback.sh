#!/usr/bin/env bash
# Roll an environment's ECS service back to an earlier task definition revision and wait
# until it is stable (the rollback workflow runs this; so can an operator with AWS access).
#
#   deploy/aws/rollback.sh ENVIRONMENT [REVISION]
#
# Without REVISION: the newest ACTIVE revision of the family older than the running one.
set -euo pipefail

environment=${1:?usage: rollback.sh staging|production [REVISION]}
revision=${2:-}
cluster=buyhive-$environment
service=api
family=buyhive-$environment-api

current=$(aws ecs describe-services --cluster "$cluster" --services "$service" \
  --query 'services[0].taskDefinition' --output text)
current_revision=${current##*:}
echo "running: $current"

if [[ -z $revision ]]; then
  # Revisions of the family, newest first; the first one below the running revision.
  for arn in $(aws ecs list-task-definitions --family-prefix "$family" --status ACTIVE \
    --sort DESC --query 'taskDefinitionArns[]' --output text); do
    if ((${arn##*:} < current_revision)); then
      revision=${arn##*:}
      break
    fi
  done
fi
if [[ -z $revision ]]; then
  echo "no ACTIVE revision of $family older than $current_revision" >&2
  exit 1
fi
if ((revision == current_revision)); then
  echo "revision $revision is already running" >&2
  exit 1
fi

target="$family:$revision"
image=$(aws ecs describe-task-definition --task-definition "$target" \
  --query "taskDefinition.containerDefinitions[?name=='api'].image | [0]" --output text)
echo "rolling back to $target ($image)"
aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "$target" \
  --query 'service.deployments[0].id' --output text
aws ecs wait services-stable --cluster "$cluster" --services "$service"
echo "stable on $target"
