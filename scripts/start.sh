#!/usr/bin/env bash
# `npm start`: set up (skipping what is present), build the release pkg/, build the
# demo page www/ with Vite as a Cinny fork would (scripts/www.mjs: the package is
# installed from its npm pack tarball), then serve www/dist on 127.0.0.1:${PORT:-8080}.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$(pwd)/node_modules/.bin:$PATH"

bash scripts/setup.sh
# --warn-size: an over-budget bundle still gets served (npm run build / npm test fail on it).
node scripts/build.mjs --warn-size
node scripts/www.mjs build
export PORT="${PORT:-8080}"
exec node scripts/serve.mjs www/dist
