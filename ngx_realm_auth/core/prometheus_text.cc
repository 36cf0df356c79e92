#include "prometheus_text.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace realm_auth {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Numbers as Go's strconv spells them (what Prometheus itself writes):
// +Inf, NaN, integers without an exponent, else the shortest %g that
// reads back exactly (0.1, not 0.10000000000000001).
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[32];
  for (int precision = 1; precision <= 17; precision++) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

bool accept_wants_prometheus(std::string_view accept) {
  std::string a = lower(accept);
  return a.find("text/plain") != std::string::npos ||
         a.find("application/openmetrics-text") != std::string::npos;
}

std::string PromText::escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PromText::escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void PromText::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PromText::series(std::string_view name, const PromLabels& labels, std::string_view extra_name,
                      std::string_view extra_value) {
  out_ += name;
  if (labels.size() != 0 || !extra_name.empty()) {
    out_ += '{';
    bool first = true;
    auto add = [&](std::string_view k, std::string_view v) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      out_ += escape_label(v);
      out_ += '"';
    };
    for (const auto& [k, v] : labels) add(k, v);
    if (!extra_name.empty()) add(extra_name, extra_value);
    out_ += '}';
  }
  out_ += ' ';
}

void PromText::sample(std::string_view name, const PromLabels& labels, uint64_t value) {
  series(name, labels, {}, {});
  out_ += std::to_string(static_cast<unsigned long long>(value));
  out_ += '\n';
}

void PromText::sample(std::string_view name, const PromLabels& labels, double value) {
  series(name, labels, {}, {});
  out_ += number(value);
  out_ += '\n';
}

void PromText::histogram(std::string_view name, const PromLabels& labels, const double* bounds,
                         const uint64_t* counts, size_t n, double sum) {
  std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= n; i++) {
    cumulative += counts[i];
    series(bucket, labels, "le", i < n ? number(bounds[i]) : "+Inf");
    out_ += std::to_string(static_cast<unsigned long long>(cumulative));
    out_ += '\n';
  }
  series(std::string(name) + "_sum", labels, {}, {});
  out_ += number(sum);
  out_ += '\n';
  series(std::string(name) + "_count", labels, {}, {});
  out_ += std::to_string(static_cast<unsigned long long>(cumulative));
  out_ += '\n';
}

}  // namespace realm_auth
