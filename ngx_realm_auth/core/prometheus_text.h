// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): what
// auth_realm_status (module) and GET /metrics (sidecar) answer with. One
// writer, so the escaping and the histogram layout live in one place.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace realm_auth {

// The Content-Type of the format.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// True when an Accept header value asks for the text format: it names
// text/plain or application/openmetrics-text with a q above 0 (what
// Prometheus's scraper sends). A plain `*/*` (curl), application/json or
// a browser's text/html does not.
bool accept_wants_prometheus(std::string_view accept);

using PromLabels = std::vector<std::pair<std::string_view, std::string_view>>;

class PromText {
 public:
  // Starts a metric family: its # HELP and # TYPE lines. `type` is
  // "counter", "gauge" or "histogram"; a counter's name ends in _total.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line of the current family.
  void sample(std::string_view name, const PromLabels& labels, uint64_t value);
  void sample(std::string_view name, const PromLabels& labels, double value);
  // The _bucket, _sum and _count lines of one histogram series. `bounds`
  // holds `n` ascending upper bounds; `counts` holds n + 1 per-bucket
  // (not cumulative) counts, the last for observations above every bound.
  void histogram(std::string_view name, const PromLabels& labels, const double* bounds,
                 const uint64_t* counts, size_t n, double sum);

  const std::string& text() const { return out_; }

  // Label value escaping of the format: backslash, double quote, newline.
  static std::string escape_label(std::string_view value);
  // HELP text escaping: backslash and newline.
  static std::string escape_help(std::string_view text);

 private:
  void series(std::string_view name, const PromLabels& labels, std::string_view extra_name,
              std::string_view extra_value);
  std::string out_;
};

}  // namespace realm_auth
