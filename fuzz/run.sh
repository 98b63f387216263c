#!/bin/bash
#
# Runs the fuzz targets built in $OUT; called by fuzz/Makefile.
#
#   run.sh run NAME...       each target $FUZZ_TIME seconds on a copy of
#                            fuzz/corpus/NAME in $OUT/run/NAME/corpus;
#                            crashes go to $OUT/run/NAME/crashes/
#   run.sh regress NAME...   each target once on every file of
#                            fuzz/regress/NAME/ and fuzz/corpus/NAME/
#
# Both print a line per target and exit 1 when any target failed (crash,
# leak, undefined behaviour, timeout, out of memory).

set -u

mode=$1
shift

: "${OUT:?}" "${FUZZ:?}"
NICE=${NICE-nice -n 19}
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_FLAGS=${FUZZ_FLAGS-}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0

# libFuzzer options of each target, fuzz/options/NAME
options() {
    local f=$FUZZ/options/$1

    if [ -f "$f" ]; then
        grep -v '^#' "$f" | sed "s|@FUZZ@|$FUZZ|g"
    fi
}

for t in "$@"; do
    bin=$OUT/${t}_fuzz
    dir=$OUT/run/$t

    case $mode in

    run)
        rm -rf "$dir"
        mkdir -p "$dir/corpus" "$dir/crashes"
        cp "$FUZZ/corpus/$t/"* "$dir/corpus/" 2>/dev/null

        $NICE "$bin" $(options "$t") -max_total_time="$FUZZ_TIME" \
            -timeout=25 -print_final_stats=1 \
            -artifact_prefix="$dir/crashes/" $FUZZ_FLAGS \
            "$dir/corpus" > "$dir/log" 2>&1
        rc=$?

        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
        last=$(grep -E '^#[0-9]+.*cov: ' "$dir/log" | tail -1)
        cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<< "$last")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
        : "${execs:=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<< "$last")}"
        corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")

        printf '%-11s %s  execs %-9s (%s/s)  cov %-5s ft %-6s corpus %s\n' \
            "$t" "$( [ $rc = 0 ] && echo ok || echo FAIL)" \
            "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"

        if [ $rc != 0 ]; then
            failed=1
            grep -E '^(SUMMARY|==[0-9]+==ERROR|.*runtime error|.*check failed)' \
                "$dir/log" | head -3 | sed 's/^/    /'
            n=$(find "$dir/crashes" -type f | wc -l)
            find "$dir/crashes" -type f | sort | head -3 | sed 's/^/    input: /'
            [ "$n" -gt 3 ] && echo "    ... $n inputs in $dir/crashes"
            echo "    log: $dir/log"
        fi
        ;;

    regress)
        mkdir -p "$dir"
        mapfile -t files < <(find "$FUZZ/regress/$t" "$FUZZ/corpus/$t" \
                                  -type f ! -name '.*' 2>/dev/null | sort)

        if [ ${#files[@]} = 0 ]; then
            printf '%-11s ok  no inputs\n' "$t"
            continue
        fi

        $NICE "$bin" $(options "$t") -timeout=25 $FUZZ_FLAGS "${files[@]}" \
            > "$dir/regress.log" 2>&1
        rc=$?

        if [ $rc = 0 ]; then
            printf '%-11s ok  %d inputs\n' "$t" ${#files[@]}

        else
            failed=1
            printf '%-11s FAIL\n' "$t"
            grep -E '^Running: ' "$dir/regress.log" | tail -1 \
                | sed 's/^Running: /    input: /'
            grep -E '^(SUMMARY|==[0-9]+==ERROR|.*runtime error|.*check failed)' \
                "$dir/regress.log" | head -3 | sed 's/^/    /'
            echo "    log: $dir/regress.log"
        fi
        ;;

    *)
        echo "usage: run.sh run|regress NAME..." >&2
        exit 2
        ;;
    esac
done

exit $failed
