#!/bin/sh
# bench/llama2c_bench.sh [LLM_SO]: greedy generation speed of llama2.c
# checkpoints through the extension, and (when LLAMA2C_RUN is set) of the
# reference C implementation (karpathy/llama2.c run.c) on the same files,
# side by side. Run from the repository root.
#
#   LLAMA2C_RUN=/tmp/llama2c/run bench/llama2c_bench.sh ./llm.so
#
# Models: `260K` = ../shared/data/llama2c/stories260K.bin with tok512.bin;
# `15M` = a random-weight checkpoint of the stories15M shape, written by
# bench/make_llama2c_ckpt.py (seed 1) with its synthetic 32000-piece
# tokenizer into $LLAMA2C_WORK (build/llama2c) if it is not there yet.
#
# Environment (defaults in brackets):
#   LLAMA2C_RUN     the reference `run` binary (built e.g. with
#                   gcc -Ofast -march=native -fopenmp -o run run.c -lm);
#                   unset: only our figures are printed
#   REPS [7]        rounds per figure; medians are printed
#   STEPS [256]     reference -n (positions, start token and prompt
#                   included); ours asks for the same number of positions
#   PROMPT [Once upon a time]
#   MODELS [260K 15M]
#   OMP_NUM_THREADS [2]  for the reference (OpenMP)
#   LLAMA2C_WORK [build/llama2c]   where the 15M files and our databases go
#   CKPT_15M, TOK_15M  use these files instead of generating them (e.g. the
#                   real stories15M.bin and llama2.c's tokenizer.bin)
#
# Figures: tokens/s, and (with the reference) the median over rounds of
# ours / reference, each round running ours and then the reference once.
# The reference's figure is what run.c prints, "achieved tok/s":
# (positions - 1) / the time after the first forward pass, prompt positions
# included (it runs the prompt one token at a time, as decode). Ours is
# generated tokens / wall time of one SELECT running llm_generate_tokens ten
# times on a connection that has already run the model once (so loading
# the weights from the database is not timed), prompt processing included.
# With the reference, every round also measures the machine's memory read
# bandwidth (build/bench_infer_bench mem: the pool's threads, 512 MB), and
# both engines' decode rates are given as GB/s of weights streamed (the
# checkpoint's size per token) and as a share of its median.
# The machine's load average is printed with each block: the machines are
# shared, and the reference's OpenMP threads spin-wait, so a busy core
# slows it by up to 100x.

set -u
so=${1:-./llm.so}
so_noext=${so%.so}
REPS=${REPS:-7}
STEPS=${STEPS:-256}
PROMPT=${PROMPT:-Once upon a time}
MODELS=${MODELS:-260K 15M}
WORK=${LLAMA2C_WORK:-build/llama2c}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
data=../shared/data/llama2c

median() {  # numbers on stdin, one a line -> the median (mean of the middle two)
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

model_files() {  # NAME -> sets ckpt, tok
    case $1 in
    260K) ckpt=$data/stories260K.bin; tok=$data/tok512.bin ;;
    15M)
        ckpt=${CKPT_15M:-$WORK/rand15M.bin}; tok=${TOK_15M:-$WORK/tok32000.bin}
        if [ ! -f "$ckpt" ] || [ ! -f "$tok" ]; then
            mkdir -p "$WORK"
            /usr/bin/python3 bench/make_llama2c_ckpt.py "$WORK/rand15M.bin" \
                --tokenizer "$WORK/tok32000.bin" --seed 1 >&2 || return 1
            ckpt=$WORK/rand15M.bin; tok=$WORK/tok32000.bin
        fi ;;
    *) echo "unknown model $1" >&2; return 1 ;;
    esac
    [ -f "$ckpt" ] && [ -f "$tok" ] || { echo "missing $ckpt or $tok" >&2; return 1; }
}

# --- the reference: one run's "achieved tok/s" ------------------------------
reference_once() {  # CKPT TOK -> prints the figure, or nothing
    "$LLAMA2C_RUN" "$1" -z "$2" -t 0 -n "$STEPS" -i "$PROMPT" 2>&1 >/dev/null |
        sed -n 's/^achieved tok\/s: //p'
}

# --- ours: the extension, through the sqlite3 shell --------------------------
ours_setup() {  # NAME CKPT TOK -> imports into $db, sets opts and q_prompt
    db=$WORK/bench_$1.db
    mkdir -p "$WORK"; rm -f "$db"
    err=$(sqlite3 -bail "$db" 2>&1 >/dev/null <<EOF
.load $so_noext
SELECT llm_import('s', 'llama2c', '$2', '$3');
EOF
    ) || { echo "   ours: failed: llm_import: $(echo "$err" | head -1)"; return 1; }
    q_prompt=$(printf '%s' "$PROMPT" | sed "s/'/''/g")
    # as many positions as the reference's STEPS: its steps count the start
    # token and the prompt's tokens too
    n_prompt=$(sqlite3 "$db" ".load $so_noext" "SELECT llm_token_count('s', '$q_prompt')")
    opts="{\"max_tokens\": $((STEPS - n_prompt)), \"temperature\": 0}"
}

ours_once() {  # -> prints "RATE N" (tokens/s, tokens of the SELECT) or "failed: ..."
    # warm-up (loads the model into the connection), then the timed SELECT;
    # .timer prints "Run Time: real S user S sys S" after each statement
    res=$(sqlite3 -bail "$db" 2>&1 <<EOF
.load $so_noext
SELECT length(llm_generate('s', '$q_prompt', '{"max_tokens": 4, "temperature": 0}')) AS warm;
.timer on
WITH rep(k) AS (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10))
SELECT 'N=' || count(token_id) FROM rep, llm_generate_tokens('s', '$q_prompt' || substr('', k), '$opts')
 WHERE finish IS NULL;
.timer off
EOF
    ) || { echo "failed: llm_generate: $(echo "$res" | grep -v '^Run Time' | tail -1)"; return; }
    n=$(echo "$res" | sed -n 's/^N=//p')
    t=$(echo "$res" | sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p' | head -1)
    [ -n "$n" ] && [ -n "$t" ] || { echo "failed: could not parse: $res"; return; }
    awk -v n="$n" -v t="$t" 'BEGIN { if (t > 0) printf "%.1f %d\n", n / t, n; else print "inf", n }'
}

# Decode: REPS rounds of ours then the reference, so that both see the same
# machine; the ratio is taken round by round and its median printed.
decode_figures() {  # NAME CKPT TOK
    ours_setup "$1" "$2" "$3" || return
    ours=""; refs=""; ratios=""; mems=""; per_gen=0
    for r in $(seq "$REPS"); do
        o=$(ours_once)
        case $o in failed*) echo "   ours (llm_generate_tokens): $o"; return ;; esac
        rate=${o% *}; per_gen=$((${o#* } / 10))
        ours="$ours$rate
"
        [ -n "${LLAMA2C_RUN:-}" ] || continue
        ref=$(reference_once "$2" "$3")
        [ -n "$ref" ] || { echo "   reference: no 'achieved tok/s' from $LLAMA2C_RUN"; return; }
        refs="$refs$ref
"
        ratios="$ratios$(awk -v a="$rate" -v b="$ref" 'BEGIN { printf "%.3f", a / b }')
"
        [ -n "$mem_bench" ] && mems="$mems$("$mem_bench" mem | sed -n 's/^mem_gbs //p')
"
    done
    echo "   ours (llm_generate_tokens, tokens/s): $(printf '%s' "$ours" | median) ($per_gen tokens per generation)"
    [ -n "${LLAMA2C_RUN:-}" ] || return
    echo "   reference ($LLAMA2C_RUN, achieved tok/s): $(printf '%s' "$refs" | median)"
    echo "   ours / reference, round by round: median $(printf '%s' "$ratios" | median)" \
         "(min $(printf '%s' "$ratios" | sort -g | head -1), max $(printf '%s' "$ratios" | sort -g | tail -1))"
    [ -n "$mems" ] || return
    # each engine reads every weight once per token: the checkpoint's bytes
    mem=$(printf '%s' "$mems" | median)
    bytes=$(wc -c < "$2")
    for who in ours reference; do
        [ $who = ours ] && v=$(printf '%s' "$ours" | median) || v=$(printf '%s' "$refs" | median)
        awk -v w=$who -v v="$v" -v b="$bytes" -v m="$mem" 'BEGIN {
            printf "   %s: weights streamed at %.1f GB/s, %.0f%% of the measured %.1f GB/s\n",
                   w, v * b / 1e9, 100 * v * b / 1e9 / m, m }'
    done
}

# Prompt processing: a prompt of about 240 tokens goes through the model in
# one batch, and one token is generated (llm_generate with max_tokens 1:
# the figure is prompt tokens / time, that one decode step included); the
# reference processes a prompt one token at a time, at its decode speed.
ours_prefill_toks_per_s() {  # NAME -> prints the median tokens/s
    db=$WORK/bench_$1.db
    text=$(awk 'BEGIN { for (i = 0; i < 22; i++) printf "Once upon a time there was a dog. " }')
    rates=""
    for r in $(seq "$REPS"); do
        res=$(sqlite3 -bail "$db" 2>&1 <<EOF
.load $so_noext
SELECT length(llm_generate('s', 'warm', '{"max_tokens": 1}')) >= 0;
SELECT 'N=' || llm_token_count('s', '$text');
.timer on
WITH rep(k) AS (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10))
SELECT sum(length(llm_generate('s', '$text' || substr('', k), '{"max_tokens": 1}')) >= 0) FROM rep;
.timer off
EOF
        ) || { echo "failed: $(echo "$res" | tail -1)"; return; }
        n=$(echo "$res" | sed -n 's/^N=//p')
        t=$(echo "$res" | sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p' | head -1)
        rates="$rates$(awk -v n="$n" -v t="$t" 'BEGIN { if (t > 0) printf "%.1f", 10 * (n + 1) / t; else print "inf" }')
"
    done
    echo "$(printf '%s' "$rates" | median) ($n tokens)"
}

# the machine's read bandwidth, measured once a round with the reference
mem_bench=""
if [ -n "${LLAMA2C_RUN:-}" ] && make --no-print-directory -s build/bench_infer_bench >&2; then
    mem_bench=build/bench_infer_bench
fi

echo "llama2.c generation, greedy: prompt '$PROMPT', $STEPS steps, median of $REPS; OMP_NUM_THREADS=$OMP_NUM_THREADS"
[ -f "$so" ] || echo "note: $so not found (make llm.so first)"
for m in $MODELS; do
    model_files "$m" || { echo "$m: no model files"; continue; }
    echo "== $m: $ckpt ($(wc -c < "$ckpt") bytes), $tok"
    echo "   load average before: $(load)"
    decode_figures "$m" "$ckpt" "$tok"
    echo "   ours, prompt processing (tokens/s): $(ours_prefill_toks_per_s "$m")"
    echo "   load average after: $(load)"
done
