/* A small C API over libsentencepiece's C++ SentencePieceProcessor. */
#ifndef SPM_SHIM_H
#define SPM_SHIM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm_processor spm_processor;

/* Loads a model file. Returns NULL on failure and writes a message into err. */
spm_processor *spm_load(const char *model_path, char *err, size_t err_cap);
/* Loads a model from serialized bytes. Returns NULL on failure. */
spm_processor *spm_load_bytes(const char *bytes, size_t len, char *err, size_t err_cap);
void spm_free(spm_processor *p);
/* Encodes text to ids. Returns the full id count (retry with a larger buffer if > cap), or -1 on error. */
int32_t spm_encode(const spm_processor *p, const char *text, size_t len, int32_t *ids, int32_t cap);
/* Decodes ids to UTF-8 text. Returns the full byte length (retry if > cap), or -1 on error. */
int64_t spm_decode(const spm_processor *p, const int32_t *ids, int32_t n, char *out, size_t cap);
int32_t spm_piece_size(const spm_processor *p);
int32_t spm_pad_id(const spm_processor *p);
int32_t spm_eos_id(const spm_processor *p);
int32_t spm_unk_id(const spm_processor *p);
int32_t spm_bos_id(const spm_processor *p);
int32_t spm_piece_to_id(const spm_processor *p, const char *piece);
/* Writes the piece for id into out; returns its full byte length, or -1 if id is out of range. */
int64_t spm_id_to_piece(const spm_processor *p, int32_t id, char *out, size_t cap);
/* SentencePieceTrainer::Train with a flag string. Returns 0 on success. */
int spm_train(const char *args, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif
#endif
