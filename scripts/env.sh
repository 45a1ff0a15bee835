# Sourced by the other scripts: where cargo builds, kept outside the checkout so fresh clones
# (CI clones anew every run) still build incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sekia-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
