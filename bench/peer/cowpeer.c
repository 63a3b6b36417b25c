/*
 * cowpeer: the native peer of `pnpm bench` -- a small, independent reader of a
 * dm-snapshot persistent COW image, written from docs/format.md alone (no code
 * of dmsnap, none of the kernel). It is the floor a skeptic would set for
 * dmsnap's own reader: plain C, pread per metadata area, one buffered writer.
 *
 *   cowpeer dump  COW   the same JSON object as `dmsnap dump COW --json`
 *                       (docs/dump-json.md; no warnings, refusals as
 *                       {"error":{"code","message"}} with exit 1)
 *   cowpeer check COW   walks the areas and validates, at minimum, what
 *                       `dmsnap check` validates per entry (docs/format.md,
 *                       Checker findings): new chunks inside the device and
 *                       not metadata, no duplicate new or old chunk, nothing
 *                       after the terminator, unreferenced data chunks; prints
 *                       {"exceptions":N,"counts":{CODE:n,...},
 *                       "unreferencedChunks":n}, exit 1 when
 *                       the image is refused or has a finding.
 *
 * Image files only (logical block size 512), no table chunk size.
 * Built by the bench with `cc -O2` into .cache/bench/peer/ (bench/peer.mjs).
 */
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAP_MAGIC 0x70416E53u
#define MAX_SAFE ((1ull << 53) - 1)

static int fd = -1;
static uint64_t dev_bytes;

/* ---- output: one buffer, flushed with write(2) ---- */
static char obuf[1 << 20];
static size_t olen;
static void oflush(void) {
  size_t at = 0;
  while (at < olen) {
    ssize_t w = write(1, obuf + at, olen - at);
    if (w < 0) {
      if (errno == EINTR) continue;
      perror("cowpeer: write");
      exit(2);
    }
    at += (size_t)w;
  }
  olen = 0;
}
static void ostr(const char *s) {
  size_t n = strlen(s);
  if (olen + n > sizeof obuf) oflush();
  memcpy(obuf + olen, s, n);
  olen += n;
}
static void ou64(uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (olen + 24 > sizeof obuf) oflush();
  while (n) obuf[olen++] = tmp[--n];
}
static void ochar(char c) {
  if (olen + 1 > sizeof obuf) oflush();
  obuf[olen++] = c;
}

static void refuse(const char *code, const char *message) {
  olen = 0;
  ostr("{\"error\":{\"code\":\"");
  ostr(code);
  ostr("\",\"message\":\"");
  ostr(message);
  ostr("\"}}\n");
  oflush();
  exit(1);
}

static void io_fail(const char *what) {
  fprintf(stderr, "cowpeer: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void pread_all(void *buf, size_t n, uint64_t at) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(at + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      io_fail("read");
    }
    if (r == 0) {
      errno = EIO;
      io_fail("short read");
    }
    got += (size_t)r;
  }
}

static uint32_t le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* The chunk size check of docs/format.md (L = 512). */
static int chunk_size_ok(uint64_t cs) { return cs >= 1 && (cs & (cs - 1)) == 0 && cs <= 4194303; }

struct image {
  uint32_t magic, valid, version, hdr_cs;
  int state; /* 0 new, 1 valid, 2 invalid */
  uint64_t cs, E, stride, chunks, count, top, current_area, current_index, next_free, max_old;
};

/* Activation steps 1-6 (docs/format.md): the header, without reading areas. */
static void activate_header(struct image *im) {
  unsigned char h[16];
  if (dev_bytes < 512) refuse("TRUNCATED", "the device cannot hold a header sector");
  pread_all(h, 16, 0);
  im->magic = le32(h);
  im->valid = le32(h + 4);
  im->version = le32(h + 8);
  im->hdr_cs = le32(h + 12);
  if (im->magic == 0) {
    im->state = 0;
    im->cs = 32;
    if (dev_bytes / (im->cs * 512) < 2) refuse("TRUNCATED", "a new COW needs chunks 0 and 1");
  } else {
    if (im->magic != SNAP_MAGIC) refuse("BAD_MAGIC", "not a snapshot header");
    im->cs = im->hdr_cs;
    if (!chunk_size_ok(im->cs)) refuse("INVALID_CHUNK_SIZE", "the header's chunk size fails the chunk size check");
    if (im->version != 1) refuse("UNSUPPORTED_VERSION", "version is not 1");
    im->state = im->valid ? 1 : 2;
  }
  im->E = 32 * im->cs;
  im->stride = im->E + 1;
  im->chunks = dev_bytes / (im->cs * 512);
  im->next_free = 2;
  im->current_area = 0;
}

typedef void (*visit_fn)(uint64_t old, uint64_t nw, void *ctx);

/*
 * Step 7: walks the areas in order, calling `visit` per entry before the
 * terminator (when given); fills count, top, max_old, current area and index.
 * `tail` (optional) gets the current area's bytes so the caller can look past
 * the terminator.
 */
static unsigned char *area_buf;
static void walk(struct image *im, visit_fn visit, void *ctx) {
  size_t cb = (size_t)(im->cs * 512);
  if (!area_buf) area_buf = malloc(cb);
  if (!area_buf) io_fail("malloc");
  im->count = 0;
  im->top = 0;
  im->max_old = 0;
  int any = 0;
  for (uint64_t a = 0;; a++) {
    uint64_t loc = 1 + im->stride * a;
    if (loc + 1 > im->chunks) refuse("TRUNCATED", "a metadata area that must be read is not inside the device");
    pread_all(area_buf, cb, loc * cb);
    uint64_t i = 0;
    for (; i < im->E; i++) {
      const unsigned char *p = area_buf + 16 * i;
      uint64_t nw = le64(p + 8);
      if (nw == 0) break;
      uint64_t old = le64(p);
      if (old > MAX_SAFE || nw > MAX_SAFE) refuse("CHUNK_NUMBER_TOO_LARGE", "a chunk number of 2^53 or more");
      if (!any || nw > im->top) im->top = nw;
      if (old > im->max_old) im->max_old = old;
      any = 1;
      if (visit) visit(old, nw, ctx);
    }
    im->count += i;
    if (i < im->E) {
      im->current_area = a;
      im->current_index = i;
      break;
    }
  }
  /* Step 8: the free cursor. */
  uint64_t nf = any && im->top + 1 > 2 ? im->top + 1 : 2;
  if (nf % im->stride == 1) nf++;
  if (nf > MAX_SAFE / im->cs) refuse("CHUNK_NUMBER_TOO_LARGE", "the allocated sectors reach 2^53");
  im->next_free = nf;
}

static void visit_dump(uint64_t old, uint64_t nw, void *ctx) {
  int *first = ctx;
  if (!*first) ochar(',');
  *first = 0;
  ochar('[');
  ou64(old);
  ochar(',');
  ou64(nw);
  ochar(']');
}

static int do_dump(void) {
  struct image im = {0};
  activate_header(&im);
  if (im.state == 1) walk(&im, NULL, NULL); /* first pass: the fields before "exceptions" */
  uint64_t total = dev_bytes / 512, alloc = im.next_free * im.cs, meta = (im.current_area + 2) * im.cs;
  ostr("{\"header\":{\"magic\":");
  ou64(im.magic);
  ostr(",\"valid\":");
  ou64(im.valid);
  ostr(",\"version\":");
  ou64(im.version);
  ostr(",\"chunkSize\":");
  ou64(im.hdr_cs);
  ostr("},\"state\":\"");
  ostr(im.state == 0 ? "new" : im.state == 1 ? "valid" : "invalid");
  ostr("\",\"chunkSize\":");
  ou64(im.cs);
  ostr(",\"exceptionsPerArea\":");
  ou64(im.E);
  ostr(",\"nextFree\":");
  ou64(im.next_free);
  ostr(",\"usage\":{\"totalSectors\":");
  ou64(total);
  ostr(",\"allocatedSectors\":");
  ou64(alloc);
  ostr(",\"metadataSectors\":");
  ou64(meta);
  ostr("},\"currentArea\":");
  ou64(im.current_area);
  ostr(",\"deviceBytes\":");
  ou64(dev_bytes);
  ostr(",\"status\":\"");
  if (im.state == 2) ostr("Invalid");
  else {
    ou64(alloc);
    ochar('/');
    ou64(total);
    ochar(' ');
    ou64(meta);
  }
  ostr("\",\"exceptions\":[");
  if (im.state == 1) {
    int first = 1;
    walk(&im, visit_dump, &first); /* second pass: the entries, streamed */
  }
  ostr("]}\n");
  oflush();
  return 0;
}

/* ---- check ---- */
struct checker {
  struct image *im;
  uint8_t *used;    /* bitmap over COW chunks 0 .. chunks-1 */
  uint8_t *olds;    /* bitmap over origin chunks 0 .. max_old, or NULL */
  uint64_t *oldv;   /* when max_old is too large for a bitmap: every old chunk, sorted later */
  uint64_t n;
  uint64_t dup_new, dup_old, metadata, beyond;
};

static void visit_check(uint64_t old, uint64_t nw, void *ctx) {
  struct checker *c = ctx;
  if (nw >= c->im->chunks) c->beyond++;
  else {
    if (c->used[nw >> 3] & (1u << (nw & 7))) c->dup_new++;
    c->used[nw >> 3] |= (uint8_t)(1u << (nw & 7));
  }
  if (nw % c->im->stride == 1) c->metadata++;
  if (c->olds) {
    if (c->olds[old >> 3] & (1u << (old & 7))) c->dup_old++;
    c->olds[old >> 3] |= (uint8_t)(1u << (old & 7));
  } else c->oldv[c->n++] = old;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void count(const char *code, uint64_t n, int *first) {
  if (!n) return;
  if (!*first) ochar(',');
  *first = 0;
  ochar('"');
  ostr(code);
  ostr("\":");
  ou64(n);
}

static int do_check(void) {
  struct image im = {0};
  activate_header(&im);
  int first = 1;
  uint64_t findings = 0;
  if (im.state != 1) {
    ostr("{\"state\":\"");
    ostr(im.state == 0 ? "new" : "invalid");
    ostr("\",\"exceptions\":0,\"counts\":{}}\n");
    oflush();
    return 0;
  }
  walk(&im, NULL, NULL); /* first pass: how big the bitmaps must be */
  struct checker c = {.im = &im};
  c.used = calloc(im.chunks / 8 + 1, 1);
  if (im.max_old < (1ull << 34)) c.olds = calloc(im.max_old / 8 + 1, 1);
  else c.oldv = malloc(im.count * sizeof(uint64_t) + 8);
  if (!c.used || (!c.olds && !c.oldv)) io_fail("malloc");
  walk(&im, visit_check, &c);
  if (c.oldv) {
    qsort(c.oldv, c.n, sizeof(uint64_t), cmp_u64);
    for (uint64_t i = 1; i < c.n; i++) c.dup_old += c.oldv[i] == c.oldv[i - 1];
  }
  /* Bytes at or after the terminator in the current area (area_buf holds it after the walk). */
  size_t cb = (size_t)(im.cs * 512);
  uint64_t after = 0;
  for (size_t b = (size_t)(16 * im.current_index); b < cb; b++)
    if (area_buf[b]) {
      after = 1;
      break;
    }
  /* Data chunks 2 .. min(next_free, chunks) - 1 that no entry names (metadata areas are not data). */
  uint64_t unref = 0, end = im.next_free < im.chunks ? im.next_free : im.chunks;
  for (uint64_t k = 2; k < end; k++)
    if (k % im.stride != 1 && !(c.used[k >> 3] & (1u << (k & 7)))) unref++;
  /* The header: valid above 1, bytes after the 16 header bytes in chunk 0. */
  uint64_t not_bool = im.valid > 1, padding = 0, partial = dev_bytes % cb != 0;
  pread_all(area_buf, cb, 0);
  for (size_t b = 16; b < cb; b++)
    if (area_buf[b]) {
      padding = 1;
      break;
    }
  ostr("{\"state\":\"valid\",\"exceptions\":");
  ou64(im.count);
  ostr(",\"counts\":{");
  count("VALID_NOT_BOOLEAN", not_bool, &first);
  count("HEADER_PADDING_NOT_ZERO", padding, &first);
  count("DEVICE_NOT_CHUNK_MULTIPLE", partial, &first);
  count("ENTRIES_AFTER_TERMINATOR", after, &first);
  count("DUPLICATE_OLD_CHUNK", c.dup_old, &first);
  count("DUPLICATE_NEW_CHUNK", c.dup_new, &first);
  count("NEW_CHUNK_IS_METADATA", c.metadata, &first);
  count("NEW_CHUNK_BEYOND_DEVICE", c.beyond, &first);
  count("UNREFERENCED_CHUNKS", unref != 0, &first); /* one finding, as dmsnap check reports it */
  ostr("},\"unreferencedChunks\":");
  ou64(unref);
  ostr("}\n");
  oflush();
  findings = not_bool + padding + after + c.dup_old + c.dup_new + c.metadata + c.beyond + unref;
  return findings ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "dump") && strcmp(argv[1], "check"))) {
    fprintf(stderr, "usage: cowpeer dump|check COW\n");
    return 2;
  }
  fd = open(argv[2], O_RDONLY);
  if (fd < 0) io_fail(argv[2]);
  struct stat st;
  if (fstat(fd, &st) < 0) io_fail("fstat");
  if (S_ISBLK(st.st_mode)) {
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) io_fail("lseek");
    dev_bytes = (uint64_t)end;
  } else dev_bytes = (uint64_t)st.st_size;
  return strcmp(argv[1], "dump") == 0 ? do_dump() : do_check();
}
