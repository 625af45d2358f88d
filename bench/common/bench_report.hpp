// The figures a benchmark prints, also written as one JSON file per run, so that
// scripts/bench-report.sh (`make bench-report`) can draw each ratio across runs
// (docs/performance.md, "Charts"). Every bench/ program fills one Report beside its printf
// lines. Nothing is written unless STRATA_BENCH_RESULTS names a directory.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace strata::bench {

class Report {
 public:
  // Takes the machine's load average now (the "before" of the run) and the arguments.
  Report(std::string bench, int argc, char** argv);

  // A measured figure, e.g. ("(c) strata, Lua keys", "records/s", 215638).
  void figure(const std::string& name, const std::string& unit, double value);
  // A ratio of two figures of this run: figure(of) / figure(ceiling), NaN (null in the JSON)
  // when either is missing, not finite or the ceiling is not positive. `target` is the value
  // the ratio should reach (NaN: none). Returns the ratio.
  double ratio(const std::string& name, const std::string& of, const std::string& ceiling,
               double target = std::nan(""));
  // A parameter of the run (connections, records, ...), kept so that runs can be told apart.
  void param(const std::string& name, const std::string& value);

  // Writes DIR/BENCH-RUN_ID.json when STRATA_BENCH_RESULTS=DIR is set (creating DIR) and says
  // where on stderr. Returns false, with the reason on stderr, when the file could not be
  // written; true otherwise (also when nothing was asked for).
  bool write() const;
  // The whole document, as write() stores it (for tests).
  std::string json() const;

 private:
  struct Figure {
    std::string name, unit;
    double value;
  };
  struct Ratio {
    std::string name, of, ceiling;
    double value, target;
  };
  const Figure* find(const std::string& name) const;

  std::string bench_, run_id_, date_, commit_;
  std::vector<std::string> args_;
  std::vector<double> load_before_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::vector<Figure> figures_;
  std::vector<Ratio> ratios_;
};

}  // namespace strata::bench
