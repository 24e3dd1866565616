/* Optional accelerator for the draw's two bulk hashing loops (docs/SPEC.md §D4, §D6).

   Why: at a province's size (20 million subjects) the pool commitment and the tickets are
   ~60 million SHA-256 calls; through hashlib each costs ~0.5 us of interpreter work around
   ~0.1 us of hashing. These loops do exactly what the pure-Python code next to them does
   (drawsvc/draw/pool.py `_subject_leaf_hashes` + `root_from_leaf_hashes`, and
   drawsvc/draw/selection.py `_part_below`), byte for byte, calling OpenSSL's libcrypto for
   SHA-256 (never a hand-written one). Whenever an input is not the plain case the fast path
   is written for (a value JCS would escape, a string that is not valid UTF-8, a stratum that
   is not one ASCII character...), a function returns None and the caller takes the Python
   path, which checks and names the problem. Tests compare both paths on random inputs. */

#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

/* A record's UTF-8 value may be written verbatim into JCS: no byte JCS escapes. */
static int plain_utf8(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\') return 0;
    }
    return 1;
}

/* UTF-8 of a str item (NULL, with no exception left set, when it is not a str or does not
   encode: a lone surrogate). The pointer is the string's own cached UTF-8. */
static const char *utf8_of(PyObject *o, Py_ssize_t *n) {
    if (!PyUnicode_Check(o)) return NULL;
    const char *s = PyUnicode_AsUTF8AndSize(o, n);
    if (s == NULL) PyErr_Clear();
    return s;
}

/* SHA-256 of one message through the low-level calls: OpenSSL 3's one-shot SHA256() fetches
   the algorithm on every call, several times the cost of hashing a leaf. */
static void sha256(const void *data, size_t len, unsigned char *out) {
    SHA256_CTX h;
    SHA256_Init(&h);
    SHA256_Update(&h, data, len);
    SHA256_Final(out, &h);
}

/* MTH (RFC 9162) over n leaf hashes held in buf (n * 32 bytes, overwritten), n >= 1:
   pairs hashed level by level, an odd last node carried up unchanged. */
static void fold_levels(unsigned char *buf, Py_ssize_t n) {
    unsigned char node[65];
    node[0] = 0x01;
    while (n > 1) {
        Py_ssize_t half = n / 2;
        for (Py_ssize_t i = 0; i < half; i++) {
            memcpy(node + 1, buf + 64 * i, 64);
            sha256(node, 65, buf + 32 * i);
        }
        if (n % 2) memmove(buf + 32 * half, buf + 32 * (n - 1), 32);
        n = half + n % 2;
    }
}


/* The leaf hashes SHA-256(0x00 || {"id":"<id>","name":"<name>","stratum":"<stratum>"}) of
   the records i (ids[i], names[i], strata[i]), written to buf (n * 32 bytes): 1 when every
   record is plain (ids and strata non-empty str, names str, nothing JCS escapes, valid
   UTF-8), 0 when one is not (no exception set), -1 on an error (exception set). `strata` is a
   list of str or one str of ASCII one-character strata, its length checked by the caller. */
static int subject_leaf_loop(PyObject *ids, PyObject *names, PyObject *strata, Py_ssize_t n, unsigned char *buf) {
    int strata_str = PyUnicode_Check(strata);
    const char *sdata = strata_str ? (const char *)PyUnicode_DATA(strata) : NULL;
    Py_ssize_t cap = 256;
    unsigned char *leaf = PyMem_Malloc((size_t)cap);
    if (leaf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    static const char P1[] = "\x00{\"id\":\"";  /* 0x00 then {"id":" */
    static const char P2[] = "\",\"name\":\"";
    static const char P3[] = "\",\"stratum\":\"";
    static const char P4[] = "\"}";
    const Py_ssize_t l1 = 8, l2 = sizeof(P2) - 1, l3 = sizeof(P3) - 1, l4 = sizeof(P4) - 1;
    int answer = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t li, ln, ls;
        const char *si = utf8_of(PyList_GET_ITEM(ids, i), &li);
        const char *sn = utf8_of(PyList_GET_ITEM(names, i), &ln);
        const char *ss;
        if (strata_str) {
            ss = sdata + i;
            ls = 1;
        } else {
            ss = utf8_of(PyList_GET_ITEM(strata, i), &ls);
        }
        if (si == NULL || sn == NULL || ss == NULL || li == 0 || ls == 0 || !plain_utf8(si, li) ||
            !plain_utf8(sn, ln) || !plain_utf8(ss, ls)) {
            answer = 0;
            break;
        }
        Py_ssize_t need = l1 + li + l2 + ln + l3 + ls + l4;
        if (need > cap) {
            while (cap < need) cap *= 2;
            unsigned char *grown = PyMem_Realloc(leaf, (size_t)cap);
            if (grown == NULL) {
                PyErr_NoMemory();
                answer = -1;
                break;
            }
            leaf = grown;
        }
        unsigned char *p = leaf;
        memcpy(p, P1, l1); p += l1;
        memcpy(p, si, li); p += li;
        memcpy(p, P2, l2); p += l2;
        memcpy(p, sn, ln); p += ln;
        memcpy(p, P3, l3); p += l3;
        memcpy(p, ss, ls); p += ls;
        memcpy(p, P4, l4); p += l4;
        sha256(leaf, (size_t)need, buf + 32 * i);
    }
    PyMem_Free(leaf);
    return answer;
}

/* The arguments of subject_root / subject_leaves, checked: the record count, or -1 when the
   columns do not line up (the caller answers None). */
static Py_ssize_t subject_columns(PyObject *args, PyObject **ids, PyObject **names, PyObject **strata) {
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, ids, &PyList_Type, names, strata)) return -2;
    Py_ssize_t n = PyList_GET_SIZE(*ids);
    if (PyList_GET_SIZE(*names) != n) return -1;
    if (PyUnicode_Check(*strata)) {
        if (!PyUnicode_IS_ASCII(*strata) || PyUnicode_GET_LENGTH(*strata) != n) return -1;
    } else if (!PyList_Check(*strata) || PyList_GET_SIZE(*strata) != n) {
        return -1;
    }
    return n;
}

/* subject_root(ids, names, strata) -> bytes | None

   MTH over the leaf hashes of subject_leaf_loop: the root of
   root_from_leaf_hashes(_subject_leaf_hashes(ids, names, strata)). None unless every record
   is plain. */
static PyObject *subject_root(PyObject *self, PyObject *args) {
    PyObject *ids, *names, *strata;
    (void)self;
    Py_ssize_t n = subject_columns(args, &ids, &names, &strata);
    if (n == -2) return NULL;
    if (n == -1) Py_RETURN_NONE;
    if (n == 0) {
        unsigned char d[32];
        sha256("", 0, d);
        return PyBytes_FromStringAndSize((const char *)d, 32);
    }
    unsigned char *buf = PyMem_Malloc((size_t)n * 32);
    if (buf == NULL) return PyErr_NoMemory();
    PyObject *result = NULL;
    int ok = subject_leaf_loop(ids, names, strata, n, buf);
    if (ok == 1) {
        fold_levels(buf, n);
        result = PyBytes_FromStringAndSize((const char *)buf, 32);
    } else if (ok == 0) {
        result = Py_None;
        Py_INCREF(result);
    }
    PyMem_Free(buf);
    return result;
}

/* subject_leaves(ids, names, strata) -> bytes | None

   The leaf hashes of subject_leaf_loop concatenated (32 bytes per record, in order): what
   b"".join(_subject_leaf_hashes(ids, names, strata)) gives. None unless every record is
   plain. */
static PyObject *subject_leaves(PyObject *self, PyObject *args) {
    PyObject *ids, *names, *strata;
    (void)self;
    Py_ssize_t n = subject_columns(args, &ids, &names, &strata);
    if (n == -2) return NULL;
    if (n == -1) Py_RETURN_NONE;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * 32);
    if (out == NULL) return NULL;
    int ok = subject_leaf_loop(ids, names, strata, n, (unsigned char *)PyBytes_AS_STRING(out));
    if (ok == 1) return out;
    Py_DECREF(out);
    if (ok == 0) Py_RETURN_NONE;
    return NULL;
}

/* n bytes are well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF). */
static int valid_utf8(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        int len;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) { len = 3; lo = 0xA0; }
        else if (c == 0xED) { len = 3; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) len = 3;
        else if (c == 0xF0) { len = 4; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else if (c == 0xF4) { len = 4; hi = 0x8F; }
        else return 0;
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (int k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        i += len;
    }
    return 1;
}

/* subject_part_leaves(ids, names_json, strata, keep) -> (leaves, kept_names_json) | None

   One registry part's pool without parsing its names: `names_json` is the part's names as a
   JSON array of strings (as SQLite's json_group_array writes it, or PostgreSQL's json_agg: a
   space after each comma, no other whitespace), `keep` one
   byte per name (0: the rules excluded that subject) or None (all kept), and ids / strata the
   kept subjects' ids (list of str) and strata (one ASCII str, a character each), in order.
   Gives the kept records' leaf hashes (subject_leaves of ids, the kept names, strata) and the
   JSON array of the kept names (their bytes as given). None unless every name is a plain JSON
   string (no escape, valid UTF-8), the array is exactly that, and the counts agree: the
   caller then parses the names and takes the other path. */
static PyObject *subject_part_leaves(PyObject *self, PyObject *args) {
    PyObject *ids, *strata, *keep_obj;
    Py_buffer names;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!y*UO", &PyList_Type, &ids, &names, &strata, &keep_obj)) return NULL;
    PyObject *result = NULL, *leaves = NULL, *out = NULL;
    const unsigned char *keep = NULL;
    Py_ssize_t nkeep = -1;
    Py_buffer keepbuf = {0};
    int have_keep = 0;
    if (keep_obj != Py_None) {
        if (PyObject_GetBuffer(keep_obj, &keepbuf, PyBUF_SIMPLE) < 0) goto fail;
        have_keep = 1;
        keep = keepbuf.buf;
        nkeep = keepbuf.len;
    }
    Py_ssize_t n = PyList_GET_SIZE(ids);
    if (!PyUnicode_IS_ASCII(strata) || PyUnicode_GET_LENGTH(strata) != n) goto none;
    const char *sdata = (const char *)PyUnicode_DATA(strata);
    const unsigned char *js = names.buf;
    Py_ssize_t jl = names.len;
    leaves = PyBytes_FromStringAndSize(NULL, n * 32);
    out = PyBytes_FromStringAndSize(NULL, jl > 2 ? jl : 2);
    if (leaves == NULL || out == NULL) goto fail;
    unsigned char *lp = (unsigned char *)PyBytes_AS_STRING(leaves);
    unsigned char *op = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t o = 0, pos = 0, row = 0, j = 0;
    Py_ssize_t cap = 256;
    unsigned char *leaf = PyMem_Malloc((size_t)cap);
    if (leaf == NULL) { PyErr_NoMemory(); goto fail; }
    static const char P1[] = "\x00{\"id\":\"";
    static const char P2[] = "\",\"name\":\"";
    static const char P3[] = "\",\"stratum\":\"";
    static const char P4[] = "\"}";
    const Py_ssize_t l1 = 8, l2 = sizeof(P2) - 1, l3 = sizeof(P3) - 1, l4 = sizeof(P4) - 1;
    int ok = 1;
    if (jl < 2 || js[0] != '[') ok = 0;
    pos = 1;
    op[o++] = '[';
    while (ok && pos < jl && js[pos] != ']') {
        if (row > 0) {  /* "," (SQLite's json_group_array) or ", " (PostgreSQL's json_agg) */
            if (js[pos] != ',') { ok = 0; break; }
            pos++;
            if (pos < jl && js[pos] == ' ') pos++;
        }
        if (pos >= jl || js[pos] != '"') { ok = 0; break; }
        Py_ssize_t start = ++pos;
        while (pos < jl && js[pos] != '"' && js[pos] != '\\' && js[pos] >= 0x20) pos++;
        if (pos >= jl || js[pos] != '"') { ok = 0; break; }
        Py_ssize_t len = pos - start;
        pos++;
        if (!valid_utf8(js + start, len)) { ok = 0; break; }
        int kept = have_keep ? (row < nkeep && keep[row]) : 1;
        row++;
        if (!kept) continue;
        if (j >= n) { ok = 0; break; }
        Py_ssize_t li;
        const char *si = utf8_of(PyList_GET_ITEM(ids, j), &li);
        if (si == NULL || li == 0 || !plain_utf8(si, li) || sdata[j] < 0x20 || sdata[j] == '"' || sdata[j] == '\\') {
            ok = 0;
            break;
        }
        Py_ssize_t need = l1 + li + l2 + len + l3 + 1 + l4;
        if (need > cap) {
            while (cap < need) cap *= 2;
            unsigned char *grown = PyMem_Realloc(leaf, (size_t)cap);
            if (grown == NULL) { PyMem_Free(leaf); PyErr_NoMemory(); goto fail; }
            leaf = grown;
        }
        unsigned char *p = leaf;
        memcpy(p, P1, l1); p += l1;
        memcpy(p, si, li); p += li;
        memcpy(p, P2, l2); p += l2;
        memcpy(p, js + start, len); p += len;
        memcpy(p, P3, l3); p += l3;
        *p++ = (unsigned char)sdata[j];
        memcpy(p, P4, l4); p += l4;
        sha256(leaf, (size_t)need, lp + 32 * j);
        if (j > 0) op[o++] = ',';
        op[o++] = '"';
        memcpy(op + o, js + start, len);
        o += len;
        op[o++] = '"';
        j++;
    }
    PyMem_Free(leaf);
    if (!ok || pos != jl - 1 || js[pos] != ']' || j != n || (have_keep && row != nkeep)) goto none;
    op[o++] = ']';
    if (_PyBytes_Resize(&out, o) < 0) goto fail;
    result = PyTuple_Pack(2, leaves, out);
    goto fail;  /* (releases what is held; result is set) */
none:
    result = Py_None;
    Py_INCREF(result);
fail:
    Py_XDECREF(leaves);
    Py_XDECREF(out);
    if (have_keep) PyBuffer_Release(&keepbuf);
    PyBuffer_Release(&names);
    return result;
}

/* merkle_root(hashes) -> bytes

   MTH over the 32-byte hashes concatenated in `hashes` (its length a positive multiple of 32):
   root_from_leaf_hashes of those hashes. */
static PyObject *merkle_root(PyObject *self, PyObject *args) {
    Py_buffer in;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*", &in)) return NULL;
    if (in.len == 0 || in.len % 32) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_ValueError, "a positive multiple of 32 bytes is needed");
        return NULL;
    }
    unsigned char *buf = PyMem_Malloc((size_t)in.len);
    if (buf == NULL) {
        PyBuffer_Release(&in);
        return PyErr_NoMemory();
    }
    memcpy(buf, in.buf, (size_t)in.len);
    Py_ssize_t n = in.len / 32;
    PyBuffer_Release(&in);
    Py_BEGIN_ALLOW_THREADS
    fold_levels(buf, n);
    Py_END_ALLOW_THREADS
    PyObject *out = PyBytes_FromStringAndSize((const char *)buf, 32);
    PyMem_Free(buf);
    return out;
}

/* tickets_below(prefix, ids, strata, names, cuts) -> bytes | None

   For each member i (ids[i], its stratum strata[i]) whose stratum is names[j] and whose ticket
   SHA-256(prefix || UTF-8(ids[i])) is below cuts[j] (as Python compares bytes), the 37 bytes
   u8(j) || ticket || u32be(i), in member order: what selection._part_below gives. `strata` is
   one ASCII str (a character per member) or a list of str; `names` a str of distinct ASCII
   characters (the strata that have a cut), `cuts` a list of bytes, one per name. None unless
   every stratum is one ASCII character and every id a str of valid UTF-8. */
static PyObject *tickets_below(PyObject *self, PyObject *args) {
    Py_buffer prefix;
    PyObject *ids, *strata, *names, *cuts;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*O!OUO!", &prefix, &PyList_Type, &ids, &strata, &names, &PyList_Type, &cuts))
        return NULL;
    PyObject *result = NULL;
    unsigned char *out = NULL;
    Py_ssize_t n = PyList_GET_SIZE(ids);
    Py_ssize_t m = PyUnicode_GET_LENGTH(names);
    int strata_str = PyUnicode_Check(strata);
    signed char where[128];
    const unsigned char *cut[256];
    Py_ssize_t cutlen[256];
    memset(where, -1, sizeof(where));
    if (!PyUnicode_IS_ASCII(names) || m > 128 || PyList_GET_SIZE(cuts) != m || n >= ((Py_ssize_t)1 << 32)) goto none;
    if (strata_str) {
        if (!PyUnicode_IS_ASCII(strata) || PyUnicode_GET_LENGTH(strata) != n) goto none;
    } else if (!PyList_Check(strata) || PyList_GET_SIZE(strata) != n) {
        goto none;
    }
    const char *nd = (const char *)PyUnicode_DATA(names);
    for (Py_ssize_t j = 0; j < m; j++) {
        PyObject *c = PyList_GET_ITEM(cuts, j);
        if (!PyBytes_Check(c) || where[(unsigned char)nd[j]] != -1) goto none;
        where[(unsigned char)nd[j]] = (signed char)j;
        cut[j] = (const unsigned char *)PyBytes_AS_STRING(c);
        cutlen[j] = PyBytes_GET_SIZE(c);
    }
    const char *sd = strata_str ? (const char *)PyUnicode_DATA(strata) : NULL;
    SHA256_CTX base;
    SHA256_Init(&base);
    SHA256_Update(&base, prefix.buf, (size_t)prefix.len);
    Py_ssize_t cap = 4096, len = 0;
    out = PyMem_Malloc((size_t)cap);
    if (out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ch;
        if (strata_str) {
            ch = (unsigned char)sd[i];
        } else {
            PyObject *s = PyList_GET_ITEM(strata, i);
            if (!PyUnicode_Check(s) || !PyUnicode_IS_ASCII(s) || PyUnicode_GET_LENGTH(s) != 1) goto none;
            ch = *(const unsigned char *)PyUnicode_DATA(s);
        }
        Py_ssize_t li;
        const char *si = utf8_of(PyList_GET_ITEM(ids, i), &li);
        if (si == NULL) goto none;
        int j = ch < 128 ? where[ch] : -1;
        if (j < 0) continue;
        SHA256_CTX h = base;
        unsigned char t[32];
        SHA256_Update(&h, si, (size_t)li);
        SHA256_Final(t, &h);
        Py_ssize_t cl = cutlen[j];
        int c = memcmp(t, cut[j], (size_t)(cl < 32 ? cl : 32));
        if (!(c < 0 || (c == 0 && 32 < cl))) continue;
        if (len + 37 > cap) {
            cap *= 2;
            unsigned char *grown = PyMem_Realloc(out, (size_t)cap);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            out = grown;
        }
        unsigned char *p = out + len;
        p[0] = (unsigned char)j;
        memcpy(p + 1, t, 32);
        p[33] = (unsigned char)(i >> 24);
        p[34] = (unsigned char)(i >> 16);
        p[35] = (unsigned char)(i >> 8);
        p[36] = (unsigned char)i;
        len += 37;
    }
    result = PyBytes_FromStringAndSize((const char *)out, len);
    goto done;
none:
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(out);
    PyBuffer_Release(&prefix);
    return result;
}

/* increasing(ids) -> bool | None

   Whether the str items of the list are strictly increasing in code-point order (which is
   their UTF-8 byte order): all(map(operator.lt, ids, ids[1:])) for strings, at C speed.
   None when an item is not a str (the caller's Python check names it). */
static PyObject *increasing(PyObject *self, PyObject *args) {
    PyObject *ids;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &ids)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ids);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_Check(PyList_GET_ITEM(ids, i))) Py_RETURN_NONE;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        PyObject *a = PyList_GET_ITEM(ids, i - 1), *b = PyList_GET_ITEM(ids, i);
        int lt;
        if (PyUnicode_IS_ASCII(a) && PyUnicode_IS_ASCII(b)) {
            Py_ssize_t la = PyUnicode_GET_LENGTH(a), lb = PyUnicode_GET_LENGTH(b);
            int c = memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)(la < lb ? la : lb));
            lt = c < 0 || (c == 0 && la < lb);
        } else {
            lt = PyUnicode_Compare(a, b) < 0;
            if (PyErr_Occurred()) return NULL;
        }
        if (!lt) Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* first_positions(prefix, subjects, m, n) -> bytes | None

   For each subject, the first min(n, m) positions of its keyed Fisher-Yates order of m
   candidates (docs/SPEC.md §D7: tickets.first_positions with base = SHA-256 state after
   `prefix`), as u32be values, subject after subject. The stream of a subject is
   block_b = SHA-256(prefix || u32be(len(id)) || id || u32be(b)) read as big-endian u64;
   uniform(r) rejects x >= floor(2^64 / r) * r. None when m >= 2^32 or an id is not a str of
   valid UTF-8 (the caller's Python walk). */
static PyObject *first_positions(PyObject *self, PyObject *args) {
    Py_buffer prefix;
    PyObject *subjects;
    Py_ssize_t m, n;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*O!nn", &prefix, &PyList_Type, &subjects, &m, &n)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t count = PyList_GET_SIZE(subjects);
    if (n > m) n = m;
    if (n < 0 || m < 0 || m >= ((Py_ssize_t)1 << 32)) {
        PyBuffer_Release(&prefix);
        Py_RETURN_NONE;
    }
    uint32_t *pos = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    uint32_t *val = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    unsigned char *out = PyMem_Malloc((size_t)(count * n * 4 + 1));
    if (pos == NULL || val == NULL || out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    SHA256_CTX base;
    SHA256_Init(&base);
    SHA256_Update(&base, prefix.buf, (size_t)prefix.len);
    unsigned char *o = out;
    for (Py_ssize_t s = 0; s < count; s++) {
        Py_ssize_t li;
        const char *si = utf8_of(PyList_GET_ITEM(subjects, s), &li);
        if (si == NULL || li >= ((Py_ssize_t)1 << 32)) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        SHA256_CTX state = base;
        unsigned char lp[4] = {(unsigned char)(li >> 24), (unsigned char)(li >> 16), (unsigned char)(li >> 8),
                               (unsigned char)li};
        SHA256_Update(&state, lp, 4);
        SHA256_Update(&state, si, (size_t)li);
        Py_ssize_t nswapped = 0;  /* positions whose value differs from the identity */
        uint64_t vals[4];
        int k = 4;
        uint32_t block = 0;
        for (Py_ssize_t j = 0; j < n; j++) {
            uint64_t r = (uint64_t)(m - j);
            unsigned __int128 limit = ((((unsigned __int128)1) << 64) / r) * r;
            uint64_t x;
            for (;;) {
                if (k == 4) {
                    SHA256_CTX h = state;
                    unsigned char b[4] = {(unsigned char)(block >> 24), (unsigned char)(block >> 16),
                                          (unsigned char)(block >> 8), (unsigned char)block};
                    unsigned char d[32];
                    SHA256_Update(&h, b, 4);
                    SHA256_Final(d, &h);
                    block++;
                    for (int q = 0; q < 4; q++) {
                        uint64_t v = 0;
                        for (int t = 0; t < 8; t++) v = (v << 8) | d[8 * q + t];
                        vals[q] = v;
                    }
                    k = 0;
                }
                x = vals[k++];
                if ((unsigned __int128)x < limit) break;
            }
            uint64_t i = (uint64_t)j + x % r;
            /* out: the value at position i; then position i takes position j's value */
            uint32_t vi = (uint32_t)i, vj = (uint32_t)j;
            Py_ssize_t at_i = -1, at_j = -1;
            for (Py_ssize_t q = 0; q < nswapped; q++) {
                if (pos[q] == (uint32_t)i) at_i = q;
                if (pos[q] == (uint32_t)j) at_j = q;
            }
            if (at_i >= 0) vi = val[at_i];
            if (at_j >= 0) vj = val[at_j];
            o[0] = (unsigned char)(vi >> 24);
            o[1] = (unsigned char)(vi >> 16);
            o[2] = (unsigned char)(vi >> 8);
            o[3] = (unsigned char)vi;
            o += 4;
            if (at_j >= 0) {  /* position j is final: forget it */
                pos[at_j] = pos[nswapped - 1];
                val[at_j] = val[nswapped - 1];
                if (at_i == nswapped - 1) at_i = at_j;
                nswapped--;
            }
            if (i != (uint64_t)j) {
                if (at_i >= 0) {
                    val[at_i] = vj;
                } else {
                    pos[nswapped] = (uint32_t)i;
                    val[nswapped] = vj;
                    nswapped++;
                }
            }
        }
    }
    result = PyBytes_FromStringAndSize((const char *)out, o - out);
done:
    PyMem_Free(pos);
    PyMem_Free(val);
    PyMem_Free(out);
    PyBuffer_Release(&prefix);
    return result;
}

static PyMethodDef methods[] = {
    {"first_positions", first_positions, METH_VARARGS, "The first positions of many subjects' inspector orders."},
    {"increasing", increasing, METH_VARARGS, "Whether a list of str is strictly increasing (None: not all str)."},
    {"subject_root", subject_root, METH_VARARGS, "MTH of plain subject records (None: take the Python path)."},
    {"subject_leaves", subject_leaves, METH_VARARGS, "Leaf hashes of plain subject records (None: take the Python path)."},
    {"subject_part_leaves", subject_part_leaves, METH_VARARGS, "A part's kept leaf hashes and names from its names' JSON."},
    {"merkle_root", merkle_root, METH_VARARGS, "MTH over concatenated 32-byte leaf hashes."},
    {"tickets_below", tickets_below, METH_VARARGS, "The members whose ticket is below their stratum's cut."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fasthash", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fasthash(void) { return PyModule_Create(&module); }
