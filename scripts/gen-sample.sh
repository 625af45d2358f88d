#!/usr/bin/env bash
# Writes N user-activity events (default 5000) as KEY<TAB>JSON lines, the seed format of
# kafka_source's embedded mock. Each user's events carry an increasing "seq". A handful of
# deliberately bad records show the dead letters: invalid JSON, a user id too long for a
# memcached key, an event without a user.
set -euo pipefail
N=${1:-5000}
USERS=${2:-200}
awk -v n="$N" -v users="$USERS" 'BEGIN {
  srand(42);
  split("page_view page_view page_view search add_to_cart purchase login logout", kinds, " ");
  split("/ /pricing /docs /blog /cart /checkout /account", pages, " ");
  ts = 1764000000000;
  for (i = 1; i <= n; i++) {
    u = sprintf("u%04d", int(rand() * users) + 1);
    seq[u]++;
    k = kinds[int(rand() * 8) + 1];
    p = pages[int(rand() * 7) + 1];
    ts += int(rand() * 50);
    if (i % 1000 == 500) { printf "%s\t{\"user\":\"%s\",\"event\":\"page_view\",oops}\n", u, u; continue; }
    if (i % 1000 == 750) {
      long = "u"; for (j = 0; j < 260; j++) long = long "x";
      printf "%s\t{\"user\":\"%s\",\"event\":\"login\",\"seq\":1,\"ts\":%.0f}\n", long, long, ts; continue;
    }
    if (i % 1000 == 999) { printf "%s\t{\"event\":\"page_view\",\"seq\":0,\"ts\":%.0f}\n", u, ts; continue; }
    printf "%s\t{\"user\":\"%s\",\"event\":\"%s\",\"page\":\"%s\",\"seq\":%d,\"ts\":%.0f}\n", u, u, k, p, seq[u], ts;
  }
}'
