#!/bin/bash
# Plan independence in REPEATABLE READ: test/t_plans.sh's queries with every
# statement in a transaction that keeps its lists (src/snapshot.c), so the
# scans of one statement (self-joins, sub-selects, rescans under every join
# method) read kept lists, and must still answer as the local copy does.
# 150 queries by default (PLANS_QUERIES); the other settings as t_plans.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PLANS_ISOLATION='repeatable read' PLANS_QUERIES=${PLANS_QUERIES:-150} exec bash test/t_plans.sh
