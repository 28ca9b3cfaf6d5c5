#include "spm_shim.h"
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <cstring>
#include <string>
#include <vector>

struct spm_processor { sentencepiece::SentencePieceProcessor sp; };

static void put_err(char *err, size_t cap, const std::string &msg) {
    if (!err || cap == 0) return;
    size_t n = msg.size() < cap - 1 ? msg.size() : cap - 1;
    std::memcpy(err, msg.data(), n);
    err[n] = 0;
}

extern "C" spm_processor *spm_load(const char *model_path, char *err, size_t err_cap) {
    try {
        auto *p = new spm_processor();
        auto st = p->sp.Load(model_path);
        if (!st.ok()) { put_err(err, err_cap, st.ToString()); delete p; return nullptr; }
        return p;
    } catch (const std::exception &e) { put_err(err, err_cap, e.what()); return nullptr; }
    catch (...) { put_err(err, err_cap, "unknown C++ exception"); return nullptr; }
}

extern "C" spm_processor *spm_load_bytes(const char *bytes, size_t len, char *err, size_t err_cap) {
    try {
        auto *p = new spm_processor();
        auto st = p->sp.LoadFromSerializedProto(std::string_view(bytes, len));
        if (!st.ok()) { put_err(err, err_cap, st.ToString()); delete p; return nullptr; }
        return p;
    } catch (const std::exception &e) { put_err(err, err_cap, e.what()); return nullptr; }
    catch (...) { put_err(err, err_cap, "unknown C++ exception"); return nullptr; }
}

extern "C" void spm_free(spm_processor *p) { delete p; }

extern "C" int32_t spm_encode(const spm_processor *p, const char *text, size_t len, int32_t *ids, int32_t cap) {
    try {
        std::vector<int> v;
        auto st = p->sp.Encode(std::string_view(text, len), &v);
        if (!st.ok()) return -1;
        for (size_t i = 0; i < v.size() && (int32_t)i < cap; i++) ids[i] = v[i];
        return (int32_t)v.size();
    } catch (...) { return -1; }
}

extern "C" int64_t spm_decode(const spm_processor *p, const int32_t *ids, int32_t n, char *out, size_t cap) {
    try {
        std::vector<int> v(ids, ids + n);
        std::string s;
        auto st = p->sp.Decode(v, &s);
        if (!st.ok()) return -1;
        if (cap > 0) { size_t m = s.size() < cap ? s.size() : cap; std::memcpy(out, s.data(), m); }
        return (int64_t)s.size();
    } catch (...) { return -1; }
}

extern "C" int32_t spm_piece_size(const spm_processor *p) { return p->sp.GetPieceSize(); }
extern "C" int32_t spm_pad_id(const spm_processor *p) { return p->sp.pad_id(); }
extern "C" int32_t spm_eos_id(const spm_processor *p) { return p->sp.eos_id(); }
extern "C" int32_t spm_unk_id(const spm_processor *p) { return p->sp.unk_id(); }
extern "C" int32_t spm_bos_id(const spm_processor *p) { return p->sp.bos_id(); }
extern "C" int32_t spm_piece_to_id(const spm_processor *p, const char *piece) {
    try { return p->sp.PieceToId(piece); } catch (...) { return -1; }
}
extern "C" int64_t spm_id_to_piece(const spm_processor *p, int32_t id, char *out, size_t cap) {
    try {
        if (id < 0 || id >= p->sp.GetPieceSize()) return -1;
        const std::string &s = p->sp.IdToPiece(id);
        if (cap > 0) { size_t m = s.size() < cap ? s.size() : cap; std::memcpy(out, s.data(), m); }
        return (int64_t)s.size();
    } catch (...) { return -1; }
}
extern "C" int spm_train(const char *args, char *err, size_t err_cap) {
    try {
        auto st = sentencepiece::SentencePieceTrainer::Train(args);
        if (!st.ok()) { put_err(err, err_cap, st.ToString()); return 1; }
        return 0;
    } catch (const std::exception &e) { put_err(err, err_cap, e.what()); return 1; }
    catch (...) { put_err(err, err_cap, "unknown C++ exception"); return 1; }
}
