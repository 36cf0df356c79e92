// A small thread-safe metrics registry for GET /metrics: counters, gauges
// and fixed-bucket histograms with labels, rendered in the Prometheus text
// format by core's PromText (one writer for the module and the sidecar).
//
// Label values must come from bounded sets (route templates, status codes,
// fixed outcome names), never from what a client sends verbatim; a family
// still refuses new series past kMaxSeries so a bug cannot grow memory
// without bound (the observation is dropped and counted).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace realm_sidecar::metrics {

class Family {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  static constexpr size_t kMaxSeries = 512;

  Family(Type type, std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});

  // Counter: adds `n`. Gauge: sets to `v`. Histogram: one observation.
  // `labels` in the order of label_names.
  void add(const std::vector<std::string>& labels, uint64_t n = 1);
  void set(const std::vector<std::string>& labels, double v);
  void observe(const std::vector<std::string>& labels, double v);

  // The value of one counter series (tests), 0 when absent.
  uint64_t count(const std::vector<std::string>& labels) const;
  uint64_t dropped() const;

  const std::string& name() const { return name_; }
  void render(std::string& out) const;

 private:
  struct Series {
    uint64_t count = 0;            // counter value, or observations
    double value = 0;              // gauge value, or histogram sum
    std::vector<uint64_t> counts;  // per bucket (not cumulative), last = above every bound
  };
  Series* series_locked(const std::vector<std::string>& labels);

  const Type type_;
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, Series> series_;
  uint64_t dropped_ = 0;
};

class Registry {
 public:
  Family& counter(std::string name, std::string help, std::vector<std::string> label_names);
  Family& gauge(std::string name, std::string help, std::vector<std::string> label_names);
  Family& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                    std::vector<double> bounds);
  // Every family, in registration order.
  std::string render() const;

 private:
  Family& add(std::unique_ptr<Family> f);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
};

}  // namespace realm_sidecar::metrics
