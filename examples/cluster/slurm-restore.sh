#!/bin/bash
# Restore a photo archive as a Slurm job array: each array task restores one share of the files.
#   sbatch --array=1-8 slurm-restore.sh /archive/photos /archive/restored [more restore options]
# A task that is killed or requeued resumes its share: finished outputs are skipped, and none is
# ever half-written. `edgedeblur restore IN -r -o OUT --shard K/8 --dry-run` shows a share's files.
#SBATCH --job-name=edgedeblur
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=12:00:00
#SBATCH --requeue
set -euo pipefail
in=$1 out=$2
shift 2
edgedeblur restore "$in" -r -o "$out" -q \
    --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" "$@"
