// The parsers of a model package refuse damage with a PackageError that names it, in the cases the
// fuzz targets (tests/fuzz) showed to matter or that a read-through found: fixtures whose shape
// disagrees with their data, a prompt bank that is not what the model reads, a manifest that names
// files outside its package, sizes that are not integers or not plausible.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include <unistd.h>

#include "ShippedPackage.h"
#include "lmdm/ModelPackage.h"
#include "lmdm/PackageFixtures.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string safetensors(const json& header, std::size_t floats) {
  const std::string text = header.dump();
  std::string bytes(8, '\0');
  const std::uint64_t size = text.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>((size >> (8 * i)) & 0xff);
  return bytes + text + std::string(floats * 4, '\0');
}

void expectRefused(const std::function<void()>& call, const std::string& words) {
  try {
    call();
    FAIL() << "accepted; expected a PackageError mentioning '" << words << "'";
  } catch (const lmdm::PackageError& error) {
    EXPECT_NE(std::string(error.what()).find(words), std::string::npos) << error.what();
  }
}

TEST(PackageParsers, SafetensorsReadsWhatItsHeaderSays) {
  const auto tensors = lmdm::parseSafetensors(
      safetensors({{"input.x", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}}}, 6), "ok");
  ASSERT_EQ(tensors.at("input.x").values.size(), 6u);
  EXPECT_EQ(tensors.at("input.x").shape, (std::vector<std::int64_t>{2, 3}));
}

TEST(PackageParsers, SafetensorsWhoseShapeDisagreesWithItsDataIsRefused) {
  // A shape larger than the data would make a graph read past the tensor's end.
  expectRefused([] { lmdm::parseSafetensors(safetensors({{"x", {{"dtype", "F32"}, {"shape", {4, 4}}, {"data_offsets", {0, 24}}}}}, 6), "f"); },
                "its shape says 16");
  expectRefused([] { lmdm::parseSafetensors(safetensors({{"x", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}}, 1), "f"); },
                "impossible shape");
  expectRefused([] { lmdm::parseSafetensors(safetensors({{"x", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 400}}}}}, 1), "f"); },
                "outside the file");
  expectRefused([] { lmdm::parseSafetensors(safetensors(json::array({1, 2}), 0), "f"); }, "not a JSON object");
  expectRefused([] { lmdm::parseSafetensors(safetensors({{"x", 7}}, 0), "f"); }, "not float32");
  expectRefused([] { lmdm::parseSafetensors(safetensors({{"x", {{"dtype", "F32"}, {"shape", "wide"}, {"data_offsets", {0, 4}}}}}, 1), "f"); },
                "not a list of integers");
  // Found by fuzz_safetensors at 8.2 M executions (tests/fuzz/regressions): a float beyond every integer
  // type in a shape was converted to one, which is undefined behaviour.
  expectRefused([] { lmdm::parseSafetensors(safetensors({{"x", {{"dtype", "F32"}, {"shape", {7.7e34}}, {"data_offsets", {0, 4}}}}}, 1), "f"); },
                "not a list of integers");
  expectRefused([] { lmdm::parseSafetensors(safetensors({{"x", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0.0, 4.5}}}}}, 1), "f"); },
                "not a list of integers");
  expectRefused([] { lmdm::parseSafetensors(std::string("\xff\xff\xff\x00\x00\x00\x00\x00{}", 10), "f"); }, "header size");
}

TEST(PackageParsers, PromptBankHoldsFiniteEmbeddingsOfTheModelsWidth) {
  const auto bank = [](const json& embedding) {
    return json{{"prompts", {{{"name", "flute"}, {"text", "a flute"}, {"embedding", embedding}}}}}.dump();
  };
  EXPECT_EQ(lmdm::parsePromptBank(bank({0.5, 0.25}), "p.json", 2).at(0).embedding.size(), 2u);
  expectRefused([&] { lmdm::parsePromptBank(bank({0.5}), "p.json", 2); }, "has 1 numbers");
  expectRefused([&] { lmdm::parsePromptBank(bank({0.5, "x"}), "p.json", 2); }, "wrong type");
  expectRefused([] { lmdm::parsePromptBank(R"({"prompts": {"name": "flute"}})", "p.json", 2); }, "not a list");
  expectRefused([] { lmdm::parsePromptBank(R"({"prompts": []})", "p.json", 2); }, "holds no prompts");
  expectRefused([] { lmdm::parsePromptBank("{\"prompts\": [", "p.json", 2); }, "not valid JSON");
  expectRefused([] { lmdm::parsePromptBank(R"({"prompts": [{"name": "a", "text": "b", "embedding": [1e39, 0]}]})", "p.json", 2); },
                "not finite");
}

// A copy of the shipped package's manifest beside links to its files, damaged by `damage`, in
// <root>/package; <root>/features.onnx links the real file too, so a name leaving the package finds it.
std::string damagedCopy(const std::function<void(json&)>& damage) {
  const fs::path shipped(LMDM_SHIPPED_PACKAGE);
  const fs::path root = fs::temp_directory_path() / (std::string("lmdm-parsers-") + std::to_string(::getpid()));
  const fs::path copy = root / "package";
  fs::remove_all(root);
  fs::create_directories(copy);
  fs::create_symlink(shipped / "features.onnx", root / "features.onnx");
  for (const auto& entry : fs::directory_iterator(shipped))
    if (entry.path().filename() != "manifest.json") fs::create_symlink(entry.path(), copy / entry.path().filename());
  json manifest = json::parse(std::ifstream(shipped / "manifest.json"));
  damage(manifest);
  std::ofstream(copy / "manifest.json") << manifest.dump();
  return copy.string();
}

TEST(PackageParsers, ManifestNamingFilesOutsideItsPackageIsRefused) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  EXPECT_NO_THROW(lmdm::ModelPackage::load(damagedCopy([](json&) {})));
  // The file exists there and its hash matches: only the name is wrong.
  expectRefused([] { lmdm::ModelPackage::load(damagedCopy([](json& m) { m["graphs"]["features"]["file"] = "../features.onnx"; })); },
                "outside the package");
  expectRefused([] { lmdm::ModelPackage::load(damagedCopy([](json& m) { m["prompts"]["file"] = "/etc/hostname"; })); },
                "outside the package");
}

TEST(PackageParsers, ManifestSizesMustBePlausibleIntegers) {
  LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE();
  expectRefused([] { lmdm::ModelPackage::load(damagedCopy([](json& m) { m["stream"]["block_frames"] = 16.5; })); }, "not an integer");
  expectRefused([] { lmdm::ModelPackage::load(damagedCopy([](json& m) { m["stream"]["block_frames"] = 1e12; })); }, "not an integer");
  expectRefused([] { lmdm::ModelPackage::load(damagedCopy([](json& m) { m["stream"]["context_frames"] = 1 << 30; })); }, "context_frames");
  expectRefused([] { lmdm::ModelPackage::load(damagedCopy([](json& m) { m["stream"]["time_shift"] = "fast"; })); }, "malformed");
  expectRefused([] { lmdm::ModelPackage::load(damagedCopy([](json& m) { m["latent"]["std"][0] = 0.0; })); }, "latent.std");
}

}  // namespace
