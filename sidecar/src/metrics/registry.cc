#include "metrics/registry.h"

#include "prometheus_text.h"

namespace realm_sidecar::metrics {

Family::Family(Type type, std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> bounds)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

Family::Series* Family::series_locked(const std::vector<std::string>& labels) {
  if (labels.size() != label_names_.size()) return nullptr;  // a programming error: dropped
  auto it = series_.find(labels);
  if (it != series_.end()) return &it->second;
  if (series_.size() >= kMaxSeries) return nullptr;
  Series s;
  if (type_ == Type::kHistogram) s.counts.assign(bounds_.size() + 1, 0);
  return &series_.emplace(labels, std::move(s)).first->second;
}

void Family::add(const std::vector<std::string>& labels, uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  Series* s = series_locked(labels);
  if (s == nullptr) {
    dropped_++;
    return;
  }
  s->count += n;
}

void Family::set(const std::vector<std::string>& labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  Series* s = series_locked(labels);
  if (s == nullptr) {
    dropped_++;
    return;
  }
  s->value = v;
}

void Family::observe(const std::vector<std::string>& labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  Series* s = series_locked(labels);
  if (s == nullptr) {
    dropped_++;
    return;
  }
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) i++;
  s->counts[i]++;
  s->count++;
  s->value += v;
}

uint64_t Family::count(const std::vector<std::string>& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.count;
}

uint64_t Family::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void Family::render(std::string& out) const {
  realm_auth::PromText p;
  const char* type = type_ == Type::kCounter ? "counter"
                     : type_ == Type::kGauge ? "gauge"
                                             : "histogram";
  p.family(name_, type, help_);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, s] : series_) {
    realm_auth::PromLabels labels;
    for (size_t i = 0; i < values.size(); i++) labels.emplace_back(label_names_[i], values[i]);
    if (type_ == Type::kCounter) {
      p.sample(name_, labels, s.count);
    } else if (type_ == Type::kGauge) {
      p.sample(name_, labels, s.value);
    } else {
      p.histogram(name_, labels, bounds_.data(), s.counts.data(), bounds_.size(), s.value);
    }
  }
  out += p.text();
}

Family& Registry::add(std::unique_ptr<Family> f) {
  std::lock_guard<std::mutex> lock(mu_);
  families_.push_back(std::move(f));
  return *families_.back();
}

Family& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  return add(std::make_unique<Family>(Family::Type::kCounter, std::move(name), std::move(help),
                                      std::move(labels)));
}

Family& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  return add(std::make_unique<Family>(Family::Type::kGauge, std::move(name), std::move(help),
                                      std::move(labels)));
}

Family& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                            std::vector<double> bounds) {
  return add(std::make_unique<Family>(Family::Type::kHistogram, std::move(name), std::move(help),
                                      std::move(labels), std::move(bounds)));
}

std::string Registry::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace realm_sidecar::metrics
