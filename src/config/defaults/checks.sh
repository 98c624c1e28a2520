#!/bin/sh
# ork's gate: runs in the trak's worktree after the agent finishes a gated stage.
# Exit 0 to pass. Any other exit sends this script's output back to the agent as feedback,
# and the stage runs again (up to the stage's max_attempts).
#
# Replace the body with your project's real checks, for example:
#   cargo fmt --check && cargo clippy --all-targets -- -D warnings && cargo test
#   npm run lint && npm test
#   make check
set -eu

echo "checks.sh: no checks configured yet; edit .orkestra/scripts/checks.sh to add them."
exit 0
