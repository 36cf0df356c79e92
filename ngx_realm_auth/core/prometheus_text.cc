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
  // Media ranges separated by commas; each "type/subtype;param=...;q=N".
  // One of the two types with q above 0 decides (q=0 means "not this").
  size_t start = 0;
  while (start <= accept.size()) {
    size_t end = accept.find(',', start);
    if (end == std::string_view::npos) end = accept.size();
    std::string range = lower(accept.substr(start, end - start));
    start = end + 1;
    size_t semi = range.find(';');
    std::string type = range.substr(0, semi);
    type.erase(0, type.find_first_not_of(" \t"));
    type.erase(type.find_last_not_of(" \t") + 1);
    if (type != "text/plain" && type != "application/openmetrics-text") continue;
    double q = 1;
    for (size_t p = semi; p != std::string::npos; p = range.find(';', p + 1)) {
      size_t eq = range.find('=', p);
      if (eq == std::string::npos) break;
      std::string name = range.substr(p + 1, eq - p - 1);
      name.erase(0, name.find_first_not_of(" \t"));
      name.erase(name.find_last_not_of(" \t") + 1);
      if (name == "q") q = std::strtod(range.c_str() + eq + 1, nullptr);
    }
    if (q > 0) return true;
  }
  return false;
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
