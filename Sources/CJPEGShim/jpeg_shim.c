// libjpeg reports fatal errors by calling error_exit, which must not return. Swift cannot
// setjmp, so the jump lives here: error_exit records the message and longjmps back into
// the function that called setjmp.
#include "jpeg_shim.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>  /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

struct shim_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void shim_error_exit(j_common_ptr cinfo) {
    struct shim_error *e = (struct shim_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

// Warnings (level -1) are ignored like PIL does, except a premature end of data: libjpeg
// would fill the rest of the picture with grey, PIL raises "image file is truncated".
static void shim_emit_message(j_common_ptr cinfo, int level) {
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        struct shim_error *e = (struct shim_error *)cinfo->err;
        (*cinfo->err->format_message)(cinfo, e->message);
        longjmp(e->jump, 1);
    }
}

static void set_error(char *err, size_t cap, const char *msg) {
    if (cap == 0) return;
    snprintf(err, cap, "%s", msg);
}

static int decode(const char *path, int header_only, int max_side, long long max_pixels,
                  unsigned char **rgb, int *w, int *h, char *err, size_t cap) {
    struct jpeg_decompress_struct cinfo;
    struct shim_error jerr;
    // volatile: these change between setjmp and longjmp and are read after the jump.
    FILE *volatile file = NULL;
    unsigned char *volatile pixels = NULL;

    if (rgb) *rgb = NULL;
    file = fopen(path, "rb");
    if (!file) { set_error(err, cap, strerror(errno)); return 1; }

    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = shim_error_exit;
    jerr.pub.emit_message = shim_emit_message;
    jerr.message[0] = 0;
    if (setjmp(jerr.jump)) {
        set_error(err, cap, jerr.message[0] ? jerr.message : "JPEG decoding failed");
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        free(pixels);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file);
    jpeg_read_header(&cinfo, TRUE);
    *w = (int)cinfo.image_width;
    *h = (int)cinfo.image_height;
    if (header_only) {
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 0;
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        set_error(err, cap, "CMYK JPEG images are not supported (convert the image to RGB)");
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 1;
    }
    if (*w <= 0 || *h <= 0 || *w > max_side || *h > max_side || (long long)*w * (long long)*h > max_pixels) {
        snprintf(err, cap, "image is %d x %d pixels; the limit is %d per side and %lld pixels", *w, *h, max_side, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 1;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3) {
        set_error(err, cap, "unexpected number of colour components after conversion to RGB");
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 1;
    }
    size_t stride = (size_t)cinfo.output_width * 3;
    pixels = (unsigned char *)malloc(stride * cinfo.output_height);
    if (!pixels) {
        set_error(err, cap, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(file);
    *rgb = pixels;
    return 0;
}

int jpeg_shim_decode(const char *path, int max_side, long long max_pixels,
                     unsigned char **rgb, int *w, int *h, char *err, size_t cap) {
    return decode(path, 0, max_side, max_pixels, rgb, w, h, err, cap);
}

int jpeg_shim_size(const char *path, int *w, int *h, char *err, size_t cap) {
    return decode(path, 1, 0, 0, NULL, w, h, err, cap);
}

void jpeg_shim_free(unsigned char *rgb) { free(rgb); }
