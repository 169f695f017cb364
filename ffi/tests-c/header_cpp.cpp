// The header must compile as C++ and be usable from it: ffi/ci.sh builds this with g++ -Werror.
#include <glimpse.h>

#include <cstdio>
#include <cstring>

int main() {
    glimpse_encoder_settings settings;
    glimpse_encoder *encoder = nullptr;
    if (glimpse_encoder_settings_init(&settings) != GLIMPSE_RESULT_OK ||
        glimpse_encoder_new(&settings, &encoder) != GLIMPSE_RESULT_OK) {
        std::fprintf(stderr, "C++: encoder creation failed: %s\n", glimpse_last_error());
        return 1;
    }
    glimpse_result r = glimpse_encoder_request_checkpoint(encoder);
    glimpse_encoder_free(encoder);
    if (r != GLIMPSE_RESULT_NOT_AVAILABLE || std::strcmp(glimpse_version(), GLIMPSE_VERSION_STRING) != 0) {
        return 1;
    }
    std::printf("C++: glimpse %s, header OK\n", glimpse_version());
    return 0;
}
