/*
 * fake_speech.h — a fake OpenAI-compatible speech server for tests
 * (libmicrohttpd on 127.0.0.1, a thread per connection):
 *
 *   POST /v1/audio/speech  {"model", "input", "voice", "response_format"?,
 *                           "speed"?, "instructions"?}
 *
 * Strict as OpenAI is: Content-Type application/json, a JSON object with
 * no other key, model and voice non-empty strings, input a string of 1 to
 * 4096 characters, response_format one of mp3 opus aac flac wav pcm, speed
 * a number from 0.25 to 4.0, the Authorization header when a key is set;
 * anything else is a 400 in OpenAI's error shape (401 for the key). The
 * answer to "opus" is real speech of the input (ai/tts.h's espeak-ng
 * encoder, its language by the text's letters) as an Ogg/Opus file, sent
 * as audio/ogg; other formats get a few bytes of the format's magic (the
 * client under test asks for opus only).
 */
#ifndef BOTC_FAKE_SPEECH_H
#define BOTC_FAKE_SPEECH_H

#include <stddef.h>

typedef struct fakespeech fakespeech;

/* port 0 = any free port. NULL with a reason on failure. */
fakespeech *fakespeech_start(int port, char *err, size_t errlen);
void fakespeech_stop(fakespeech *f);
/* "http://127.0.0.1:<port>/v1" (owned by f) */
const char *fakespeech_base(const fakespeech *f);
/* The key the Authorization header must carry (NULL = none required). */
void fakespeech_key(fakespeech *f, const char *key);
/* The next `times` valid requests (-1 = all) get status with OpenAI's
 * error body for it. */
void fakespeech_error(fakespeech *f, int status, int times);
/* Milliseconds before each answer. */
void fakespeech_delay(fakespeech *f, int ms);
/* on: an MP3 answer (ID3 bytes) whatever was asked, as a server that
 * ignores response_format does. */
void fakespeech_wrong_format(fakespeech *f, int on);
/* Requests received (valid or not); the body of request i (malloc'd,
 * NULL out of range); how many were answered 200. */
int fakespeech_requests(fakespeech *f);
char *fakespeech_request(fakespeech *f, int i);
int fakespeech_answered(fakespeech *f);

#endif
