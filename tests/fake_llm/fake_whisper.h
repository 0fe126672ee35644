/*
 * fake_whisper.h — a fake speech-to-text server for tests, strict about
 * what the real ones take (libmicrohttpd on loopback, one thread per
 * connection):
 *
 *   POST /v1/audio/transcriptions (OpenAI, faster-whisper, LocalAI, vLLM):
 *     multipart/form-data with a boundary; parts named file (with a
 *     filename and bytes), model (required), language (ISO 639-1, two
 *     letters), response_format (json | text | verbose_json), prompt,
 *     temperature; any other part, a part twice, a missing boundary or a
 *     body not closed by it: 400 in OpenAI's error shape. The file's name
 *     must end in a format OpenAI takes (flac, m4a, mp3, mp4, mpeg, mpga,
 *     oga, ogg, wav, webm) and its bytes be that format (by their magic):
 *     else 400 as OpenAI answers.
 *   POST /inference (whisper.cpp's server): the same multipart, file a
 *     RIFF/WAVE file, no model needed.
 *
 * It answers {"text": <the scripted transcript>}, or a scripted error, or
 * after a delay (timeouts).
 */
#ifndef BOTC_FAKE_WHISPER_H
#define BOTC_FAKE_WHISPER_H

typedef struct fakewhisper fakewhisper;

/* port 0 = any free one. NULL with a reason on failure. */
fakewhisper *fakewhisper_start(int port, char *err, size_t errlen);
void fakewhisper_stop(fakewhisper *f);
/* "http://127.0.0.1:PORT/v1" (ASR_API_BASE; whisper.cpp's /inference sits
 * beside /v1 too: the base without it works the same) */
const char *fakewhisper_base(const fakewhisper *f);
/* The transcript of the next answers ("" = nothing heard). */
void fakewhisper_answer(fakewhisper *f, const char *text);
/* The next `times` requests (-1 = all) answer status with an error body. */
void fakewhisper_error(fakewhisper *f, int status, int times);
/* Every answer waits ms first. */
void fakewhisper_delay(fakewhisper *f, int ms);
int fakewhisper_requests(fakewhisper *f);
/* Request i's form fields as "name=value" lines (file as
 * "file=<filename> <bytes> bytes <first 4 bytes> type=<its Content-Type>"), malloc'd; NULL if none. */
char *fakewhisper_request(fakewhisper *f, int i);

#endif
