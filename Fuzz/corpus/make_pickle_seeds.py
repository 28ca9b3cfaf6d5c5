#!/usr/bin/env python3
# Writes the FuzzPickle seeds (Fuzz/corpus/pickle/): tiny checkpoints laid out as torch.save does
# (a stored zip: archive/data.pkl, archive/data/<key>, archive/byteorder, archive/version), built
# opcode by opcode so no PyTorch is needed. Run from the repository root.
import struct, zipfile

def op(*b): return bytes(b)
def string(s): u = s.encode(); return b"X" + struct.pack("<I", len(u)) + u
def integer(v): return b"J" + struct.pack("<i", v)
def glob(m, n): return b"c" + f"{m}\n{n}\n".encode()
def tup(vs): return b"(" + b"".join(integer(v) for v in vs) + b"t"
def tensor(key, storage, numel, offset, size, stride):
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" +
            b"(" + string("storage") + glob("torch", storage) + string(key) + string("cpu") + integer(numel) + b"t" + b"Q" +
            integer(offset) + tup(size) + tup(stride) + op(0x89) +
            glob("collections", "OrderedDict") + b")R" + b"tR")

def write(path, pickle, storages):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle)
        z.writestr("archive/byteorder", "little")
        for k, v in storages.items(): z.writestr(f"archive/data/{k}", v)
        z.writestr("archive/version", "3\n")

floats = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
bf16 = b"".join(struct.pack("<f", v)[2:] for v in (0.5, -1, 2, 3))
# OrderedDict of a float [2, 3] tensor, its transpose view (same storage) and a bf16 [4] tensor.
p = (b"\x80\x02" + glob("collections", "OrderedDict") + b")R" +
     string("w") + tensor("0", "FloatStorage", 6, 0, [2, 3], [3, 1]) + b"s" +
     string("w_t") + tensor("0", "FloatStorage", 6, 0, [3, 2], [1, 3]) + b"s" +
     string("b") + tensor("1", "BFloat16Storage", 4, 1, [3], [1]) + b"s" + b".")
write("Fuzz/corpus/pickle/state_dict.bin", p, {"0": floats, "1": bf16})
# {"state_dict": {"a": tensor}, "epoch": 7}, as training checkpoints nest it.
q = (b"\x80\x02}" + string("state_dict") + b"}" + string("a") + tensor("0", "FloatStorage", 6, 2, [2], [1]) + b"s" + b"s" +
     string("epoch") + b"K\x07" + b"s" + b".")
write("Fuzz/corpus/pickle/nested.bin", q, {"0": floats})
