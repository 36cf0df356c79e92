#include "api/revocation_step.h"

#include <cstdio>

#include "http/problem.h"

namespace realm_sidecar {

RevocationStep publish_revocation(RevocationPublisher& publisher, realm_auth::RevocationKind kind,
                                  const std::string& tenant, const std::string& subject) {
  RevocationStep s;
  s.record = publisher.make(kind, tenant, subject);
  s.published = publisher.publish(s.record, s.error);
  if (!s.published && s.error.empty()) s.error = "the publisher gave no reason";
  return s;
}

void record_revocation(json_t* details, const RevocationStep& step) {
  JsonPtr r(json_object());
  json_set(r.get(), "kind", realm_auth::revocation_kind_name(step.record.kind));
  if (!step.record.subject.empty()) json_set(r.get(), "subject", step.record.subject);
  json_set(r.get(), "not_before", static_cast<long long>(step.record.not_before));
  json_set(r.get(), "expires", static_cast<long long>(step.record.expires));
  json_set(r.get(), "published", step.published);
  if (!step.published) json_set(r.get(), "error", step.error.substr(0, 300));
  json_set(details, "revocation", std::move(r));
}

HttpResponse revocation_unavailable(const HttpRequest& req, const std::string& done,
                                    const std::string& advice, const RevocationStep& step) {
  std::fprintf(stderr, "realm-sidecar: revocation (%s %s) not published: %s request_id=%s\n",
               realm_auth::revocation_kind_name(step.record.kind), step.record.tenant.c_str(),
               step.error.c_str(), req.request_id.c_str());
  return problem(503,
                 done +
                     ", but the revocation of tokens already issued could not be recorded (the "
                     "revocation store is unavailable): those tokens keep passing until they "
                     "expire" +
                     (advice.empty() ? "" : "; " + advice),
                 "", req.request_id);
}

WorkResult revoke_and_answer(const HttpRequest& req, RevocationPublisher& publisher,
                             realm_auth::RevocationKind kind, const std::string& tenant,
                             const std::string& subject, json_t* details, const std::string& done,
                             const std::string& advice,
                             const std::function<HttpResponse(const RevocationStep&)>& answer) {
  RevocationStep step = publish_revocation(publisher, kind, tenant, subject);
  record_revocation(details, step);
  WorkResult w;
  w.details_json = json_text(details);
  if (!step.published) {
    w.response = revocation_unavailable(req, done, advice, step);
    w.failure_reason = done + "; revocation not published: " + step.error;
    return w;
  }
  w.response = answer(step);
  return w;
}

}  // namespace realm_sidecar
