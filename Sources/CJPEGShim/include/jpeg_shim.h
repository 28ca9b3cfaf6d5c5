#ifndef JPEG_SHIM_H
#define JPEG_SHIM_H
#include <stddef.h>

/* Decodes a baseline or progressive JPEG file to packed 8-bit RGB (rows of w*3 bytes) with
 * libjpeg's defaults (ISLOW DCT, fancy upsampling), which is what PIL does.
 * The size is checked against max_side and max_pixels after the header is read and before
 * any pixel buffer is allocated. A truncated file is an error (PIL refuses those too).
 * Returns 0 on success: *rgb is malloc'd (release it with jpeg_shim_free).
 * Returns non-zero on failure with a NUL-terminated message in err (no file name in it). */
int jpeg_shim_decode(const char *path, int max_side, long long max_pixels,
                     unsigned char **rgb, int *w, int *h, char *err, size_t cap);

/* Reads only the header: width and height. Same return convention. */
int jpeg_shim_size(const char *path, int *w, int *h, char *err, size_t cap);

void jpeg_shim_free(unsigned char *rgb);

#endif
