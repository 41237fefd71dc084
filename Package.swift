// swift-tools-version: 6.0
// LayerCard: which layers of an LLM to put LoRA adapters into.
// Dependency direction (top → bottom, no cycles): executables → LCCLI → LCPipeline →
// {LCCard, LCModel, LCTokenizers, LCFormats} → {LCKernels, LCCore} → C system libraries.
import PackageDescription

let package = Package(
    name: "LayerCard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "layercard", targets: ["layercard"]),
        .executable(name: "layercard-ingest", targets: ["layercard-ingest"]),
        .executable(name: "layercard-load", targets: ["layercard-load"]),
        .executable(name: "layercard-profile", targets: ["layercard-profile"]),
        .executable(name: "layercard-rank", targets: ["layercard-rank"]),
        .executable(name: "layercard-report", targets: ["layercard-report"]),
        .library(name: "LayerCardKit", targets: ["LCPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C system libraries (Debian: libopenblas-dev, libhdf5-dev, libarchive-dev, pkg-config).
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),

        // Shared plumbing: errors, atomic files, hashing, JSON helpers. No math, no formats.
        .target(name: "LCCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Untrusted bytes → tensor tables, metadata, dequantized floats. No model math.
        .target(name: "LCFormats", dependencies: ["LCCore", "CArchive"]),
        // Dense math kernels (OpenBLAS + naive references). Never touches files.
        .target(name: "LCKernels", dependencies: ["COpenBLAS"]),
        // Tokenizers: byte-level BPE and WordPiece.
        .target(name: "LCTokenizers", dependencies: ["LCCore"]),
        // Model configs, architectures (tensor naming, modules), weights store, forward/backward.
        .target(name: "LCModel", dependencies: ["LCCore", "LCFormats", "LCKernels", "LCTokenizers"]),
        // The Layer Card: statistics, card JSON/HDF5.
        .target(name: "LCCard", dependencies: ["LCCore", "LCFormats", "LCModel", "LCKernels", "CHDF5"]),
        // Stages, manifests, workspace layout, fingerprints.
        .target(name: "LCPipeline", dependencies: [
            "LCCore", "LCFormats", "LCModel", "LCTokenizers", "LCCard", "LCKernels",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Command-line front ends shared by the umbrella tool and the per-stage executables.
        .target(name: "LCCLI", dependencies: [
            "LCPipeline", "LCKernels", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "layercard", dependencies: ["LCCLI"]),
        .executableTarget(name: "layercard-ingest", dependencies: ["LCCLI"]),
        .executableTarget(name: "layercard-load", dependencies: ["LCCLI"]),
        .executableTarget(name: "layercard-profile", dependencies: ["LCCLI"]),
        .executableTarget(name: "layercard-rank", dependencies: ["LCCLI"]),
        .executableTarget(name: "layercard-report", dependencies: ["LCCLI"]),

        .testTarget(name: "LCFormatsTests", dependencies: ["LCFormats", "LCCore"]),
        .testTarget(name: "LCKernelsTests", dependencies: ["LCKernels"]),
        .testTarget(name: "LCTokenizersTests", dependencies: ["LCTokenizers", "LCFormats"]),
        .testTarget(name: "LCModelTests", dependencies: ["LCModel", "LCFormats", "LCKernels"]),
        .testTarget(name: "LCPipelineTests", dependencies: ["LCPipeline", "LCCLI"]),
    ]
)
