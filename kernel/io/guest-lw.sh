# Guest helpers of the I/O-order recording (record.py prepends this file to
# the generated jobs.sh; it runs after /lib/dmsnap-lib.sh is sourced).
#
# One workload:
#   lw-data   linear slice of the data disk: origin then COW
#   lw-log    linear slice of the log disk
#   lw        log-writes lw-data lw-log: every write, flush and FUA to the
#             slice is logged, in one order for origin and COW
#   base-real linear over lw [0, OSECT)      (the origin)
#   cow-disk  linear over lw [OSECT, +CSECT) (the COW)
#   snap, base as usual; merge: base = snapshot-merge base-real cow-disk
# Marks are single words (log-writes takes one argument).

LOGDEV=""
for b in /sys/block/vd*; do
  [ "$(cat "$b/serial" 2>/dev/null)" = log ] && LOGDEV=/dev/${b##*/}
done
[ -n "$LOGDEV" ] || say "FATAL: no log disk"

lw_mark() { $DMS message lw 0 mark "$1" >> "$OUT/log" 2>&1 || echo "mark $1 failed" >> "$OUT/log"; }

# lw_begin ID DATA_START OSECT CSECT LOG_START LOG_SECT WATCH
lw_begin() {
  J=$1; OUT=/out/$1; OSECT=$3; CSECT=$4; WATCH=$7; LAST=""
  mkdir -p "$OUT"; : > "$OUT/log"; : > "$OUT/steps"
  dmesg -c > /dev/null
  echo "[dmsnap] job $J" > /dev/console
  logc $DMS create lw-data --table "0 $((OSECT + CSECT)) linear $DATA $2"
  logc $DMS create lw-log --table "0 $6 linear $LOGDEV $5"
  logc $DMS create lw --table "0 $((OSECT + CSECT)) log-writes /dev/mapper/lw-data /dev/mapper/lw-log"
  logc $DMS create cow-disk --table "0 $CSECT linear /dev/mapper/lw $OSECT"
}

st() { $DMS status snap 2>/dev/null | cut -d' ' -f4- ; }

lw_activate() {
  lw_mark "activate:$1:$2"
  logc $DMS create base-real --table "0 $OSECT linear /dev/mapper/lw 0"
  if logc $DMS create snap --table "0 $OSECT snapshot /dev/mapper/base-real /dev/mapper/cow-disk $1 $2"; then
    logc $DMS create base --table "0 $OSECT snapshot-origin /dev/mapper/base-real"
    LAST="$(st)"
    lw_mark "activated:$(echo "$LAST" | tr ' ' '_')"
    echo "activate $1 $2 ok $LAST" >> "$OUT/steps"
  else
    lw_mark "refused"
    echo "activate $1 $2 refused" >> "$OUT/steps"
  fi
}

# lw_w o|s SECTOR COUNT TAG : one O_DIRECT write (no fsync), then its mark
lw_w() {
  local dev=base; [ "$1" = s ] && dev=snap
  if DMSNAP_NOSYNC=1 /bin/pwrite-direct "/dev/mapper/$dev" "$2" "$3" "$4" >> "$OUT/log" 2>&1; then
    lw_mark "ack:$1:$2:$3:$4"; echo "w $1 $2 $3 $4 ack" >> "$OUT/steps"
  else
    lw_mark "fail:$1:$2:$3:$4"; echo "w $1 $2 $3 $4 fail" >> "$OUT/steps"
  fi
  if [ "$WATCH" = 1 ]; then
    local now; now="$(st)"
    if [ "$now" != "$LAST" ]; then LAST="$now"; lw_mark "status:$(echo "$now" | tr ' ' '_')"; echo "status $now" >> "$OUT/steps"; fi
  fi
}

lw_deactivate() {
  lw_mark "deactivate"
  for d in base snap base-real; do
    if $DMS info $d > /dev/null 2>&1; then logc $DMS remove $d; fi
  done
  lw_mark "deactivated"
  echo "deactivate" >> "$OUT/steps"
}

# lw_merge MODE CHUNK : snapshot-merge in place of the origin, until no exception is left
lw_merge() {
  lw_mark "merge-start"
  logc $DMS create base-real --table "0 $OSECT linear /dev/mapper/lw 0"
  logc $DMS create base --table "0 $OSECT snapshot-merge /dev/mapper/base-real /dev/mapper/cow-disk $1 $2"
  local i=0 now prev="" a m
  while [ $i -lt 600 ]; do
    now="$($DMS status base 2>/dev/null | cut -d' ' -f4-)"
    if [ "$now" != "$prev" ]; then prev="$now"; lw_mark "merge:$(echo "$now" | tr ' ' '_')"; echo "merge $now" >> "$OUT/steps"; fi
    a="${now%%/*}"; m="${now##* }"
    [ -n "$a" ] && [ "$a" = "$m" ] && break
    sleep 0.1
    i=$((i + 1))
  done
  logc $DMS remove base
  logc $DMS remove base-real
  lw_mark "merged"
  echo "merged $now" >> "$OUT/steps"
}

lw_end() {
  for d in base snap base-real; do
    if $DMS info $d > /dev/null 2>&1; then logc $DMS remove $d; fi
  done
  logc $DMS remove cow-disk
  # removing the log-writes target writes out what it still holds
  logc $DMS remove lw
  logc $DMS remove lw-log
  logc $DMS remove lw-data
  dmesg -c > "$OUT/dmesg"
  echo done > "$OUT/done"
}
