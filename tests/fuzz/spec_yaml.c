/* Fuzz target: a YAML spec through yaml_front, build, check and lowering
 * (spec_common.h). Corpus: tests/fuzz/corpus/spec_yaml/. */
#include "spec_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_spec(data, size, "fuzz.yaml");
}
