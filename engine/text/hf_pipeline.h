/*
** hf_pipeline.h: the text-transforming parts of a Hugging Face
** `tokenizer.json`: its "normalizer", "pre_tokenizer" and "decoder", each
** parsed from its JSON object and run as the reference (the Rust
** `tokenizers` library, 0.22) runs it, alignments and offsets included.
**
** Supported (every field the reference reads; a missing required field, a
** wrong type or an unknown/unsupported type is an error naming it):
**   normalizers     NFC NFD NFKC NFKD Lowercase StripAccents Replace Prepend
**                   Strip BertNormalizer Nmt Sequence
**   pre-tokenizers  ByteLevel Split Digits Metaspace BertPreTokenizer
**                   Whitespace WhitespaceSplit Punctuation CharDelimiterSplit
**                   Sequence
**   decoders        ByteLevel Metaspace WordPiece ByteFallback Fuse Replace
**                   Strip BPEDecoder Sequence
** Not supported: Precompiled and the ByteLevel normalizer; UnicodeScripts
** and FixedLength pre-tokenizers, and any pre-tokenizer after a ByteLevel
** one (the reference runs it on GPT-2's byte characters; here the text
** stays bytes); the CTC decoder.
**
** Where the reference's Unicode tables are older than ours (it uses several
** crates, of Unicode 8 to 16; ours are Unicode 17), we follow ours: code
** points assigned or reclassified since give other results there.
** Two more departures, both on inputs no real tokenizer has: a Replace
** (normalizer or decoder) regex's empty matches replace nothing here (the
** reference inserts the content there); and where the reference panics (the
** Strip decoder asked to strip more than a token that is made only of its
** content character, or to cut its start past its end), we give the empty
** token.
**
** Text may be any bytes: a byte that is not part of valid UTF-8 passes
** through every normalizer and pre-tokenizer as a character of its own that
** nothing matches, maps or removes (splitters count it as neither space,
** letter, digit nor punctuation), aligned to itself.
**
** Threads: a parsed normalizer or pre-tokenizer keeps work memory between
** calls (given back after a call on a text of megabytes), and any
** component with a regex has the regex's match buffers: use each from one
** thread at a time (parse one per thread to run in parallel). A decoder
** without a Replace regex keeps nothing and may decode in several threads
** at once. No function keeps any other state.
*/
#ifndef LLM_HF_PIPELINE_H
#define LLM_HF_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "formats/json.h"

/* Byte alignment of a rewritten text: output byte k comes from the input
** bytes [start[k], end[k]) (the whole input character it was produced
** from, as the reference's alignments do; an inserted character takes the
** alignment of the character before it, or [0, 0) at the very start). */
typedef struct llm_align {
  size_t *start, *end;
  size_t len, cap;
} llm_align;

void llm_align_free(llm_align *a);

/* ---- normalizers --------------------------------------------------------- */

typedef struct llm_hf_norm llm_hf_norm;

/* node: the value of tokenizer.json's "normalizer" (an object; JSON null ->
** *out = NULL, meaning identity). */
int llm_hf_norm_parse(const llm_json *node, llm_hf_norm **out, llm_err *err);
void llm_hf_norm_free(llm_hf_norm *n);

/* Normalizes s[0..len) into out (replacing its contents; n NULL copies);
** align, when not NULL, gets one entry per output byte, offsets into s
** (and costs time: leave it NULL when offsets are not wanted).
** s must not point into out. */
int llm_hf_normalize(const llm_hf_norm *n, const uint8_t *s, size_t len,
                     llm_buf *out, llm_align *align, llm_err *err);

/* ---- pre-tokenizers ------------------------------------------------------ */

typedef struct llm_hf_pretok llm_hf_pretok;

/* "pre_tokenizer" value; null -> NULL (the whole text is one piece). */
int llm_hf_pretok_parse(const llm_json *node, llm_hf_pretok **out,
                        llm_err *err);
void llm_hf_pretok_free(llm_hf_pretok *p);

/* Pieces of one text: piece i's bytes are text.data[off[i] .. off[i+1])
** (off has n + 1 entries; a piece is never empty; a piece may differ from
** the input: Metaspace turns ' ' into its replacement and prepends one,
** ByteLevel with add_prefix_space prepends ' '), and align gives for every
** byte of text the [start, end) of the input bytes it came from.
** Zero-initialise; the functions below reuse its memory. */
typedef struct llm_hf_pieces {
  llm_buf text;
  size_t *off;
  size_t n, cap; /* n pieces; off holds cap entries */
  llm_align align;
} llm_hf_pieces;

void llm_hf_pieces_free(llm_hf_pieces *p);

/* Splits s[0..len) into pieces (replacing out's contents). An empty text
** has no pieces. The text is taken as the original: Metaspace's
** prepend_scheme "first" prepends to a piece that starts at offset 0. */
int llm_hf_pretokenize(const llm_hf_pretok *p, const uint8_t *s, size_t len,
                       llm_hf_pieces *out, llm_err *err);

/* The same for a normalized text: orig (NULL: as above) is the alignment
** of s to the original text, as llm_hf_normalize gave it. Then
** prepend_scheme "first" looks at original offsets, as the reference does
** (after a normalizer that removed leading characters, the first piece may
** not start at 0), and out->align is in original offsets. */
int llm_hf_pretokenize_aligned(const llm_hf_pretok *p, const uint8_t *s,
                               size_t len, const llm_align *orig,
                               llm_hf_pieces *out, llm_err *err);

/* Whether the chain contains a ByteLevel pre-tokenizer: then the model is
** byte-level BPE. Our ByteLevel step does NOT map bytes to GPT-2's
** characters (the tokenizer keeps raw bytes and maps at vocabulary
** lookup); it only applies add_prefix_space and, with use_regex, the GPT-2
** split. 0 for NULL. */
int llm_hf_pretok_is_bytelevel(const llm_hf_pretok *p);

/* ---- decoders ------------------------------------------------------------ */

typedef struct llm_hf_decoder llm_hf_decoder;

/* "decoder" value; null -> NULL (concatenate). */
int llm_hf_decoder_parse(const llm_json *node, llm_hf_decoder **out,
                         llm_err *err);
void llm_hf_decoder_free(llm_hf_decoder *d);

typedef struct llm_str_ref {
  const uint8_t *s;
  size_t len;
} llm_str_ref;

/* Decodes tokens (each as the vocabulary spells it, e.g. "Ġhello", "▁the",
** "##ing", "<0x41>") into text, as the reference's Decoder.decode(tokens)
** does; out is appended to. Like the reference, ByteLevel and ByteFallback
** turn bytes that are not valid UTF-8 into U+FFFD (ByteLevel one per
** maximal ill-formed subsequence, ByteFallback one per byte token). */
int llm_hf_decode(const llm_hf_decoder *d, const llm_str_ref *tokens,
                  size_t n, llm_buf *out, llm_err *err);

#endif
