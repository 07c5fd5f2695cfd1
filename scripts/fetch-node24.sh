#!/usr/bin/env bash
# Kept for the benchmarks' harness: the same as `bash scripts/fetch-node.sh 24`.
exec bash "$(dirname "$0")/fetch-node.sh" 24
