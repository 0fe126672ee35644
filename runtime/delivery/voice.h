/*
 * voice.h — answers by voice (the spec's `voice: reply: voice | both`): a
 * user who spoke (a voice note, or a text transcribed from one) hears the
 * bot's answer as voice notes.
 *
 * Two halves, on either side of the outbox:
 *   staging   inside the update's transaction, each text message to the
 *             user gains (both) or is replaced by (voice) sendVoice calls,
 *             one per piece of its text (sentences packed up to
 *             TTS_MAX_CHARS, at most VOICE_MAX_PIECES notes; a longer text
 *             also goes as text). They are stored still to be spoken:
 *               {"chat_id", "voice": {"file_name", "speak", "lang"},
 *                "reply_markup"?, "fallback"?}
 *             so the outbox row is small, and a crash re-synthesizes.
 *   synthesis the outbox's preparer (outq_options.prepare): when such a
 *             call's turn in its chat comes, the text is spoken (ai/tts.h:
 *             off the loop thread offline, a transfer on the loop remote)
 *             and the call goes as a multipart upload of the Ogg/Opus file
 *             with its duration. The chat's later calls wait: per-chat
 *             order is kept; other chats go on.
 * The text stays the durable record: history holds what the bot said
 * whatever the reply mode. When speech fails, a voice-only answer goes as
 * that piece's text instead ("fallback"), a `both` answer's note is
 * dropped (its text went already); either is logged.
 */
#ifndef BOTC_VOICE_H
#define BOTC_VOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dialogue/machine.h"
#include "net/loop.h"
#include "telegram/outq.h"
#include "telegram/tgupdate.h"

#define VOICE_MAX_PIECES 10      /* voice notes one message becomes */
#define VOICE_DEFAULT_CHARS 600  /* TTS_MAX_CHARS: about 40 s of speech a note */
#define VOICE_METHOD "sendVoice"

/* The user spoke: a voice note, or a text transcribed from one. */
bool voice_spoke(const bm_input *in);

/* TTS_MAX_CHARS (bytes of text per voice note, 100..4000), else the default. */
size_t voice_max_chars_from_env(void);

/* For effect e (one the inbox stages for input in, rendered into
 * calls[first..calls->n)): with m->voice_reply VOICE or BOTH, a user who
 * spoke and a SEND to the input's chat, appends the sendVoice calls (to be
 * spoken, max_chars bytes a piece) and, for VOICE, removes the rendered
 * sendMessage calls (their reply keyboard moves to the last note; a
 * message with an inline keyboard keeps its text, as with BOTH, because
 * its buttons edit the message they sit on). Anything else is left as it
 * is. 0, or -1 (out of memory; calls as they were). */
int voice_stage(const bm_machine *m, const bm_input *in, const bm_effect *e, size_t max_chars,
                tgu_calls *calls, int first);

/* ---- synthesis: the outbox's preparer ------------------------------------- */

typedef struct voice_synth voice_synth;

/* The engine from the environment (ai/tts.h: TTS_API_BASE, else
 * espeak-ng), on lp (borrowed; must outlive it). Never NULL unless out of
 * memory: an engine that cannot start is logged and every voice answer
 * then takes its fallback. */
voice_synth *voice_synth_new(loop *lp);
/* Calls still being spoken are answered OUTQ_PREP_CANCELLED (their rows
 * stay for the next start). Free the outbox first, then this, then the
 * loop. NULL is fine. */
void voice_synth_free(voice_synth *v);
/* outq_prepare_fn (ud = the voice_synth). */
int voice_synth_prepare(void *ud, outq_call *call, int64_t chat_id, const char *body);
/* Answers the calls whose speech is done. Every turn of the loop. */
int voice_synth_dispatch(voice_synth *v);
/* Speech in progress. */
int voice_synth_pending(const voice_synth *v);

/* The prepared params of a stored voice call (body) given the Ogg/Opus
 * audio and its seconds: voice becomes the upload {"file_name",
 * "content_base64"}, "duration" is set, "fallback" goes. malloc'd, NULL on
 * out of memory or a body that is not a voice call. */
char *voice_prepared_body(const char *body, const unsigned char *audio, size_t len,
                          double seconds);
/* The fallback of a stored voice call: sendMessage params with the piece's
 * text (and the reply_markup), or NULL when it has none (or OOM). */
char *voice_fallback_body(const char *body);

#endif
