/*
 * slurp.h — a whole file read into memory, for tests that compare with
 * expected files or parse data files (unit tests, the e2e driver, the fake
 * Bot API's schema).
 */
#ifndef BOTC_TEST_SLURP_H
#define BOTC_TEST_SLURP_H

/* The file's bytes followed by a NUL, malloc'd: the caller frees it. NULL
 * when the file cannot be opened or read, or memory runs out (errno says
 * which). */
char *slurp(const char *path);

#endif
