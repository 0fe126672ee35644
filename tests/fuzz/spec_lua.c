/* Fuzz target: a Lua spec through lua_front (its sandbox, memory cap and
 * instruction budget), build, check and lowering (spec_common.h). Corpus:
 * tests/fuzz/corpus/spec_lua/. */
#include "spec_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_spec(data, size, "fuzz.lua");
}
