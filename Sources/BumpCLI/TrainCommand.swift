import ArgumentParser
import BumpKit
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `bump train` (the default subcommand): trains Dense → activation → … → Dense on a built-in
/// dataset or a CSV file and writes a run folder.
///
/// The folder is written atomically: everything goes to `.<name>.partial` next to it, which
/// is renamed at the end. Errors found before training starts (options, data, model) leave
/// no folder. If training itself fails (the loss becomes NaN or infinite), the folder is
/// still published, with the last good checkpoint and a `FAILED` note in `summary.txt`, and
/// the command exits with a non-zero status.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a bump network and write a run folder (model, history, plots, summary).",
    discussion: """
      The model is Dense(in→h1) → act → Dense(h1→h2) → act → … → Dense(→out), where out is \
      1 for regression and --loss bce, and the number of classes for --loss softmax. With \
      --radial the first hidden layer is RadialBump(in→h1) instead: \
      RadialBump(in→h1) → Dense(h1→h2) → act → … → Dense(→out). With --radial-last (two or \
      more hidden layers) the last hidden layer is RadialBump(h(k−1)→hk) on the features the \
      layers before it learned, instead of Dense → act; both flags together give \
      RadialBump(in→h1) → Dense(h1→h2) → act → … → RadialBump(h(k−1)→hk) → Dense(→out). A model \
      with a radial layer gets a support score: bump predict writes in_support and abstain.

      The run folder (--output, default runs/<dataset or file name>-<UTC time>) holds \
      model.safetensors (a checkpoint with the configuration, feature names, \
      standardization and metrics in its metadata; rewritten during training at most once \
      a second), history.csv, loss.svg, bumps.svg (bump models), decision_regions.svg (2-feature \
      classification), radial_supports.svg (--radial with 2 features), support.svg (a radial \
      layer and 2 features: where the model abstains) and summary.txt.

      CSV columns (--data): every column but the target and --ignore'd ones is a feature. \
      A column of numbers is one input; its missing cells (empty, NA, N/A, NaN, nan, null, \
      NULL, None, ?, -, <NA>, #N/A) take the training part's median and, when the training \
      part has any, a 0/1 input '<column> (missing)' marks them (--missing changes this); \
      for regression, a column with at most 64 distinct values also gets 32 piecewise-linear \
      inputs over quantile bins of the training part (--numeric-encoding, --bins). \
      A column that holds mostly text (True/False, yes/no, names), or one named by \
      --categorical, is one-hot encoded: one input '<column>=<category>' for each of the 32 \
      most frequent categories of the training part (ties in text order), and one \
      '<column>=(other)' for the rest when there are more; a missing cell is all zeros. A \
      column with one value (or none) in the training part is dropped with a note. A \
      classification target's classes are its distinct labels, numbers in numeric order \
      (2007 and 2007.0 are one class) or names in text order; a row without one is left out \
      and counted. The checkpoint stores all of this, and predict and evaluate apply it.

      A test part gives an honest score: the validation part picks the early-stopping \
      epoch, so its score is optimistic. --test-split F first holds out round(F·n) of the n \
      usable rows (those with a target; with --missing drop-rows, without a missing cell), \
      drawn at random from --seed; --validation-split then takes its fraction of the rest. \
      Training on a file with --test-split is training on the file without the test rows, \
      with the same seed; only the classes of a classification target are taken from all \
      rows, test rows included. --test-data FILE scores a separate file instead, read as \
      bump evaluate reads it: encoded with the training part's column plan and standardized \
      with its statistics (a category the model does not know is counted in a warning, a \
      class label it does not know is an error, a row without a label is left out). The test \
      part is scored once, after training, with the final model (see --final-model, below); \
      the summary, summary.txt, the checkpoint's metrics and bump inspect show it \
      beside the training and validation parts.

      Every row is used in the end (--final-model, default ensemble): once early stopping \
      has picked the epoch budget E (the epoch whose weights it kept), models are trained \
      anew on the training and validation parts together for E epochs, without validation \
      (--refits, default 3, 5 for classification on --data: the first built as the \
      early-stopped model was, with the same seed, the others from seeds of their own), and \
      the run ends with the mean of those refits and the early-stopped model (regression: their outputs; classification: their \
      class probabilities). The checkpoint then holds all the models (an ensemble, which \
      predict, evaluate and inspect read as one model); --final-model refit keeps the refits \
      alone, early-stopped the early-stopped model alone, as before. The summary, summary.txt, the \
      checkpoint (final_model) and bump inspect say which and what E was. The validation \
      rows have then been trained on: the validation column is the early-stopped model's, \
      the training and test columns the final model's. A run stopped during the refit \
      cannot be resumed (its checkpoint holds the early-stopped model).

      The defaults were chosen on real tabular data (docs/real-data.md): up to 200 epochs \
      with early stopping on the validation loss (patience 20, best weights kept), Adam at \
      0.003, σ initially 4; for classification on --data (without --radial or \
      --radial-last) one hidden layer of 128 units and 5 refits instead of 32,32 and 3 \
      (--layers 32,32 --refits 3 gives the run of before). A regression target is \
      standardized for training and mapped back: predictions, the losses shown and history.csv are in the target's own units. \
      The summary shows a constant baseline next to the metrics (the MSE of predicting the \
      training mean, or the accuracy of the most frequent training class) and R² for \
      regression.

      Over several processes (bump built with --traits MPI, started by mpirun -np N): each \
      process reads its own byte range of --data (cut at record boundaries) or every N-th \
      sample of a built-in dataset, and takes its own test and validation parts of its rows; \
      the column plan, the classes, the standardizations, the validation loss, early \
      stopping and the summary's metrics are those of all the rows; --batch-size is each \
      process's (a step's batch is N × batch rows). Process 0 writes the run folder and the \
      output; a signal to any process stops every one at the same step, and --resume \
      continues such a run over as many processes. A --test-data file is read by every \
      process, each scoring every N-th row; standard input needs one process.

      A run estimated to need more memory than the limit (physical memory, ulimit -v or the \
      cgroup's; BUMP_MEMORY_LIMIT=512M, 4G, 0.5G, … replaces it, but cannot raise a ulimit -v; \
      set but empty, it is unset) is refused before it starts; \
      under ulimit -v the program and OpenBLAS's work buffers (128 MiB per thread) count too. \
      After training, the metrics and statistics come from one pass over each part, 4096 \
      rows at a time, within the same estimate. \
      SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGXCPU and the other \
      catchable signals that would end the process stop training (or the computing of the \
      results after it) at the next batch and publish the run folder with the last good \
      checkpoint (after training: the final weights), marked interrupted (exit status \
      128 + the signal). A closed standard output (| head) does not stop training: the run \
      finishes, writes its folder and exits 0.
      """
  )

  // MARK: Data

  @Option(help: "A built-in dataset (default rings, unless --data is given).")
  var dataset: BuiltInDataset?

  @Option(
    parsing: .unconditional,
    help: "The number of samples to generate for a built-in dataset (default 2000; bumps 1000).")
  var samples: Int?

  @Option(
    help: ArgumentHelp(
      "A CSV file with a header row; - reads standard input.", valueName: "file"))
  var data: String?

  @Option(help: ArgumentHelp("The target column of --data.", valueName: "column"))
  var target: String?

  @Option(help: "What the target of --data is.")
  var task: TaskKind?

  @Option(
    help: ArgumentHelp(
      "Columns of --data to skip (an id, a name), comma-separated; a name in double quotes is taken as written, commas and edge spaces included ('\"a, b\"'). Every other column but the target is a feature: numbers, or categories when it holds mostly text; each ignored column must be in the file. A column whose header cell is empty (a row index written with the file) is named 'column N', N its position.",
      valueName: "columns"))
  var ignore: [String] = []

  @Option(
    help: ArgumentHelp(
      "Columns of --data to read as categories (one-hot) even though they hold numbers (a code, a zip), comma-separated, quoted as for --ignore; each must be in the file.",
      valueName: "columns"))
  var categorical: [String] = []

  @Option(
    help: ArgumentHelp(
      "Missing feature cells (empty, NA, N/A, NaN, nan, null, NULL, None, ?, -, <NA>, #N/A): impute fills a number column's with the training part's median and adds a 0/1 '<column> (missing)' input, and leaves a category column's one-hot inputs at zero; drop-rows leaves their rows out; error lists them and stops. A row with a missing target is always left out. Default: impute.",
      valueName: "rule"))
  var missing: MissingRule?

  @Option(
    help: ArgumentHelp(
      "How number columns of --data become inputs: plain, the value; piecewise-linear, the value and, for a column with at least 3 distinct values in the training part, --bins more inputs in [0, 1] over bins between quantiles of the training part (ties merge bins): 0 below a bin, 1 above it, linear within it; only columns with at most --bins-max-distinct distinct values. Missing cells take the median first. Default: piecewise-linear for regression (plain over several processes, and where its inputs times the training rows would pass 1,000,000), plain for classification (docs/real-data.md).",
      valueName: "encoding"))
  var numericEncoding: NumericEncoding?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The bins of --numeric-encoding piecewise-linear (quantile bins of the training part; default \(Self.defaultBins)).",
      valueName: "n"))
  var bins: Int?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "With --numeric-encoding piecewise-linear: only number columns with at most this many distinct values in the training part are encoded (counts, levels, months); the others keep their one input. Default: \(Self.defaultBinsMaxDistinct).",
      valueName: "n"))
  var binsMaxDistinct: Int?

  @Flag(
    inversion: .prefixedNo,
    help:
      "Standardize the features (fitted on the training part). Default: on for --data, off for the built-in datasets."
  )
  var standardize: Bool?

  @Flag(
    inversion: .prefixedNo,
    help:
      "Standardize a regression target (fitted on the training part; predictions and metrics stay in its own units). Default: on."
  )
  var standardizeTarget: Bool?

  @Option(
    parsing: .unconditional,
    help: "The fraction of samples held out for validation (0 for none; default 0.2).")
  var validationSplit: Double?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The fraction of samples held out as a test part, before the validation split (which takes its fraction of the rest): seen neither by training nor by early stopping, scored once with the final weights (0 for none; default 0).",
      valueName: "fraction"))
  var testSplit: Double?

  @Option(
    help: ArgumentHelp(
      "A CSV file scored as the test part instead of --test-split: read as bump evaluate reads a file, with the training part's column plan and standardization; - reads standard input.",
      valueName: "file"))
  var testData: String?

  // MARK: Model

  @Option(
    help: ArgumentHelp(
      "Hidden layer sizes, comma-separated (default 32,32; for classification on --data 128, one layer, unless --radial or --radial-last; --layers 32,32 --refits 3 is the default of before, docs/real-data.md).",
      valueName: "sizes"))
  var layers: HiddenSizes?

  @Option(help: "The activation after each hidden Dense layer (default bump).")
  var activation: ActivationChoice?

  @Flag(
    help:
      "Make the first hidden layer a RadialBump(in→h1) instead of Dense(in→h1) → act: one bump of the distance ‖x − c‖² per unit, centres started on k-means++ rows of the training data, σ from their spacing.")
  var radial = false

  @Flag(
    help:
      "Make the last hidden layer a RadialBump(h(k−1)→hk) on the features the layers before it learned, instead of Dense → act (needs two or more hidden layers): its centres start on k-means++ rows of those features, and the support score is taken there.")
  var radialLast = false

  @Option(help: "σ (and a trained c or a) shared by a whole bump layer or one per unit (default per-unit).")
  var sigma: SigmaLayout?

  @Flag(help: "Learn the bump centres c (otherwise fixed at 0).")
  var trainCenter = false

  @Flag(help: "Learn the bump amplitudes a (otherwise fixed at 1).")
  var trainAmplitude = false

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The initial σ: a positive number, or keras for Uniform(0, 0.1) (default 4).", valueName: "sigma"))
  var sigmaInit: SigmaInitialization?

  @Option(help: "The precision of parameters and arithmetic (default float).")
  var precision: Precision?

  // MARK: Training

  @Option(help: "The loss (default: mse for regression, softmax for classification).")
  var loss: LossChoice?

  @Option(help: "The optimizer (default adam).")
  var optimizer: OptimizerChoice?

  @Option(
    parsing: .unconditional,
    help: "The learning rate (default 0.003 for adam and adamw, 0.1 for sgd).")
  var lr: Double?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The most passes over the training data (default \(Self.defaultEpochs), \(Self.defaultRadialEpochs) with --radial; early stopping usually ends sooner).",
      valueName: "epochs"))
  var epochs: Int?

  @Option(parsing: .unconditional, help: "Samples per gradient step (default 32).")
  var batchSize: Int?

  @Option(
    parsing: .unconditional,
    help: "The seed for data generation, shuffling and initial weights (default 1).")
  var seed: UInt64?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Stop after this many epochs without improvement of the validation loss and keep the best weights (default \(Self.defaultPatience) with a validation split; 0 for no early stopping).",
      valueName: "epochs"))
  var patience: Int?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The smallest decrease of the validation loss that early stopping counts as an improvement (in standardized units for a standardized target; default \(formatted(Self.defaultMinDelta))).",
      valueName: "delta"))
  var minDelta: Double?

  @Option(
    name: .customLong("lr-schedule"),
    help:
      "The learning-rate schedule: constant, or cosine decay to 0 over the --epochs budget (default \(Self.defaultSchedule.rawValue)).")
  var schedule: ScheduleChoice?

  @Option(
    help: ArgumentHelp(
      "What the run ends with once early stopping has picked the epoch budget E (the best validation epoch): ensemble, the mean of the early-stopped model and the refits (--refits) on all non-test rows (training and validation) for E epochs, outputs averaged for regression and class probabilities for classification; refit, the refits alone; early-stopped, the weights of epoch E. Needs a validation part. Default: ensemble (docs/real-data.md); without a validation part (--validation-split 0) the run ends with its final weights.",
      valueName: "choice"))
  var finalModel: FinalModelChoice?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "How many refits --final-model ensemble or refit trains, each on all non-test rows for E epochs: the first from the run's initial weights and shuffles (--seed), each further one from its own (a seed derived from --seed); the final model is the mean of the refits (with the early-stopped model for ensemble). At least 1; default \(Self.defaultRefits), \(Self.defaultClassificationRefits) for classification on --data without --radial or --radial-last (docs/real-data.md).",
      valueName: "n"))
  var refits: Int?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Label smoothing ε for --loss softmax: each training row's target is (1 − ε) on its class and ε spread evenly over all classes (the validation loss that early stopping watches is the smoothed one; the reported losses are not). In [0, 1); default \(formatted(Self.defaultLabelSmoothing)).",
      valueName: "epsilon"))
  var labelSmoothing: Double?

  @Option(
    help: ArgumentHelp(
      "Continue the run whose checkpoint is <file> (its run folder's model.safetensors), interrupted or failed, as if it had never stopped: the weights, the optimizer's state, the epoch and early stopping's state come from the checkpoint, and so does every option not given; an option given must equal the run's. The data is read again (--data may name the file's new place) and must be the same. The run goes to a new folder (--output, or the default name).",
      valueName: "file"))
  var resume: String?

  @Option(help: ArgumentHelp("The run folder to create (must not exist).", valueName: "dir"))
  var output: String?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The least time between two checkpoints written during training, in seconds (0: after every epoch; each save syncs the file to disk).",
      valueName: "seconds"))
  var checkpointInterval: Double = 1

  /// The epoch budget when `--epochs` is not given.
  static let defaultEpochs = 200
  /// The epoch budget when `--epochs` is not given and the first hidden layer is radial: its
  /// centres move slowly in input space, and at 200 epochs early stopping had not yet ended
  /// a run on the digits (docs/out-of-distribution.md).
  static let defaultRadialEpochs = 600
  /// The early-stopping patience when `--patience` is not given and there is validation data.
  static let defaultPatience = 20
  /// The early-stopping threshold when `--min-delta` is not given.
  static let defaultMinDelta = 1e-4
  /// The schedule when `--lr-schedule` is not given.
  static let defaultSchedule = ScheduleChoice.constant
  /// The hidden layers when `--layers` is not given.
  static let defaultLayers = [32, 32]
  /// The hidden layers when `--layers` is not given for classification on a CSV file (without
  /// `--radial` or `--radial-last`): one layer of 128 bump units (docs/real-data.md).
  static let defaultClassificationLayers = [128]
  /// The batch size when `--batch-size` is not given.
  static let defaultBatchSize = 32
  /// The seed when `--seed` is not given.
  static let defaultSeed: UInt64 = 1
  /// The validation fraction when `--validation-split` is not given.
  static let defaultValidationSplit = 0.2
  /// The final model when `--final-model` is not given and there is a validation part.
  static let defaultFinalModel = FinalModelChoice.ensemble
  /// The refits of an ensemble or refit final model when `--refits` is not given.
  static let defaultRefits = 3
  /// The refits when `--refits` is not given for classification on a CSV file
  /// (docs/real-data.md).
  static let defaultClassificationRefits = 5
  /// The label smoothing of a softmax loss when `--label-smoothing` is not given.
  static let defaultLabelSmoothing = 0.0
  /// The bins of a piecewise-linear encoding when `--bins` is not given.
  static let defaultBins = 32
  /// The most distinct values of a column encoded piecewise-linearly when
  /// `--bins-max-distinct` is not given.
  static let defaultBinsMaxDistinct = 64
  /// The most cells (training rows × piecewise-linear inputs) the default encoding adds: on
  /// 50,000 rows of 10 few-valued columns, 32 bins each made a run take 54 s instead of 2.3 s.
  static let defaultPiecewiseCells = 1_000_000
  /// The most bins `--bins` takes.
  static let maximumBins = 1024

  /// Whether `a` and `b` (paths, or - for standard input) are one pipe, socket or device:
  /// the same file that is not a regular file (a regular file can be read twice).
  static func sameStream(_ a: String, _ b: String) -> Bool {
    func identity(_ path: String) -> (device: UInt64, inode: UInt64, regular: Bool)? {
      var s = stat()
      guard (path == "-" ? fstat(0, &s) : stat(path, &s)) == 0 else { return nil }
      return (UInt64(s.st_dev), UInt64(s.st_ino), (s.st_mode & S_IFMT) == S_IFREG)
    }
    guard let x = identity(a), let y = identity(b) else { return false }
    return x.device == y.device && x.inode == y.inode && !x.regular
  }

  func validate() throws {
    if resume == nil { _ = try resolvedConfiguration() }
  }

  /// The options checked and combined, with every default filled in. For `--resume`, `base`
  /// is the run's stored configuration: every option not given is taken from it (a flag not
  /// given is the run's), so that comparing the result with `base` finds the options given
  /// with other values.
  func resolvedConfiguration(base: TrainingConfiguration? = nil) throws(ValidationError) -> TrainingConfiguration {
    let sigmaInit = self.sigmaInit ?? base.map { $0.sigmaInitialization } ?? .constant(4)
    let activation = self.activation ?? base?.activation ?? .bump
    let sigma = self.sigma ?? base?.sigma ?? .perUnit
    let precision = self.precision ?? base?.precision ?? .float
    let optimizer = self.optimizer ?? base?.optimizer ?? .adam
    let batchSize = self.batchSize ?? base?.batchSize ?? Self.defaultBatchSize
    let seed = self.seed ?? base?.seed ?? Self.defaultSeed
    let minDelta = self.minDelta ?? base.map { $0.minDelta ?? 0 } ?? Self.defaultMinDelta
    let schedule = self.schedule ?? base.map { $0.schedule ?? .constant } ?? Self.defaultSchedule
    let validationSplit = self.validationSplit ?? base?.validationSplit ?? Self.defaultValidationSplit
    let testSplit = self.testSplit ?? base?.testSplit
    // A test file given anew replaces the stored path (the data is compared when read).
    let testData = self.testData ?? base?.testDataFile
    let radial = self.radial || base?.radialFirstLayer == true
    let radialLast = self.radialLast || base?.radialLastLayer == true
    let trainCenter = self.trainCenter || base?.trainCenter == true
    let trainAmplitude = self.trainAmplitude || base?.trainAmplitude == true
    // The data: as given, else the run's (a CSV file given anew replaces the stored path).
    let data = self.data ?? (self.dataset == nil ? base?.dataFile : nil)
    let dataset = self.dataset ?? (self.data == nil ? base?.dataset : nil)
    let fromBase = base != nil && data != nil
    let target = self.target ?? (fromBase ? base?.target : nil)
    let task = self.task ?? (fromBase ? base?.task : nil)
    let missing = self.missing ?? (fromBase ? base?.missingValues : nil)
    // A run stored before the option had plain number columns.
    let numericEncoding = self.numericEncoding ?? (fromBase ? base?.numericEncoding ?? .plain : nil)
    let bins = self.bins ?? (fromBase ? base?.bins : nil)
    let binsMaxDistinct = self.binsMaxDistinct ?? (fromBase ? base?.binsMaxDistinct : nil)
    let samples = self.samples ?? (base != nil && dataset != nil ? base?.samples : nil)
    let lr = self.lr ?? (base?.optimizer == optimizer ? base?.learningRate : nil)
    let standardize = self.standardize ?? base?.standardize
    let standardizeTarget = self.standardizeTarget ?? base.map { $0.standardizeTarget ?? false }

    if let problem = self.layers?.problem { throw ValidationError(problem) }
    if radialLast && (self.layers?.sizes ?? base?.hiddenLayers ?? Self.defaultLayers).count < 2 {
      throw ValidationError(
        "--radial-last needs two or more hidden layers (--layers h1,h2,…); for one, --radial makes it radial")
    }
    if let problem = sigmaInit.problem { throw ValidationError(problem) }
    if data == "" { throw ValidationError("--data is empty; give a CSV file, or - for standard input") }
    if data != nil, dataset != nil {
      throw ValidationError("give either --dataset or --data, not both")
    }
    if data == nil {
      for (given, option) in [
        (target != nil, "--target"), (task != nil, "--task"), (!ignore.isEmpty, "--ignore"),
        (!categorical.isEmpty, "--categorical"), (missing != nil, "--missing"),
        (testData != nil, "--test-data"), (numericEncoding != nil, "--numeric-encoding"),
        (bins != nil, "--bins"), (binsMaxDistinct != nil, "--bins-max-distinct"),
      ] where given {
        throw ValidationError("\(option) applies only to --data")
      }
    } else {
      if target == nil {
        throw ValidationError("--data needs --target, the name of the target column")
      }
      if task == nil {
        throw ValidationError("--data needs --task regression or --task classification")
      }
      if samples != nil { throw ValidationError("--samples applies only to the built-in datasets") }
    }
    let builtIn: BuiltInDataset? = data == nil ? (dataset ?? .rings) : nil
    let taskKind = builtIn?.taskKind ?? task!
    // Classification on a file: one wider layer and more refits by default (docs/real-data.md);
    // a radial model keeps the defaults of before (--radial-last needs two layers).
    let classificationDefaults = data != nil && taskKind == .classification && !radial && !radialLast
    let layers =
      self.layers
      ?? HiddenSizes(
        base?.hiddenLayers ?? (classificationDefaults ? Self.defaultClassificationLayers : Self.defaultLayers))
    if let samples, samples < 4 {
      throw ValidationError("--samples must be at least 4, got \(samples)")
    }
    let resolvedLoss = loss ?? base?.loss ?? (taskKind == .regression ? .mse : .softmax)
    switch (taskKind, resolvedLoss) {
    case (.regression, .bce), (.regression, .softmax):
      throw ValidationError(
        "--loss \(resolvedLoss.rawValue) needs a classification task; use --loss mse for regression"
      )
    case (.classification, .mse):
      throw ValidationError(
        "--loss mse needs a regression task; use --loss softmax or bce for classification")
    default: break
    }
    if activation != .bump {
      if trainCenter { throw ValidationError("--train-center applies only to --activation bump") }
      if trainAmplitude {
        throw ValidationError("--train-amplitude applies only to --activation bump")
      }
    }
    let rate = lr ?? optimizer.defaultLearningRate
    guard rate.isFinite, rate > 0 else {
      throw ValidationError("--lr must be finite and > 0, got \(rate)")
    }
    let epochs = self.epochs ?? base?.epochs ?? (radial ? Self.defaultRadialEpochs : Self.defaultEpochs)
    guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
    guard batchSize >= 1 else {
      throw ValidationError("--batch-size must be at least 1, got \(batchSize)")
    }
    guard validationSplit >= 0, validationSplit < 1 else {
      throw ValidationError("--validation-split must be in [0, 1), got \(validationSplit)")
    }
    if let testSplit {
      guard testSplit >= 0, testSplit < 1 else {
        throw ValidationError("--test-split must be in [0, 1), got \(testSplit)")
      }
    }
    if let testData {
      if testData.isEmpty {
        throw ValidationError("--test-data is empty; give a CSV file, or - for standard input")
      }
      if testSplit != nil {
        throw ValidationError("give either --test-split or --test-data, not both")
      }
      if testData == "-", data == "-" {
        throw ValidationError("--data and --test-data cannot both read standard input; give one of them as a file")
      }
      if let data, Self.sameStream(data, testData) {
        // A pipe can be read once: opening it again for the test rows would wait forever.
        throw ValidationError(
          "--data and --test-data name the same pipe or device (\(MessageText.quoted(testData))), which can be read "
            + "only once; give the test rows as a file of their own, or use --test-split")
      }
    }
    if let patience, patience < 0 {
      throw ValidationError("--patience must be at least 0 (0: no early stopping), got \(patience)")
    }
    guard minDelta.isFinite, minDelta >= 0 else {
      throw ValidationError("--min-delta must be finite and ≥ 0, got \(minDelta)")
    }
    if standardizeTarget == true, taskKind != .regression {
      throw ValidationError("--standardize-target applies only to regression")
    }
    // Early stopping by default only where there is held-out data to watch.
    let resolvedPatience =
      patience.map { $0 == 0 ? nil : $0 }
      ?? (base.map { $0.patience } ?? (validationSplit > 0 ? Self.defaultPatience : nil))
    // A refit needs the validation part: it picks the budget, and its rows are what the
    // refit adds. A run stored before the option existed ended with the early-stopped model.
    var finalModel = self.finalModel ?? base.map { $0.finalModel ?? .earlyStopped } ?? Self.defaultFinalModel
    if validationSplit == 0 {
      if let given = self.finalModel, given != .earlyStopped {
        throw ValidationError(
          "--final-model \(given.rawValue) needs a validation part (--validation-split > 0): early stopping on it picks the epochs of the refit")
      }
      finalModel = .earlyStopped
    }
    let refits =
      self.refits ?? base.map { $0.refits ?? 1 }
      ?? (classificationDefaults ? Self.defaultClassificationRefits : Self.defaultRefits)
    guard refits >= 1 else { throw ValidationError("--refits must be at least 1, got \(refits)") }
    if let given = self.refits, given != 1, finalModel == .earlyStopped {
      throw ValidationError(
        "--refits \(given) needs --final-model ensemble or refit (and a validation part): the early-stopped model has no refit")
    }
    if let output, let problem = RunFolder.problem(with: output) { throw ValidationError(problem) }
    guard checkpointInterval.isFinite, checkpointInterval >= 0 else {
      throw ValidationError(
        "--checkpoint-interval must be finite and ≥ 0 seconds, got \(checkpointInterval)")
    }
    var configuration = TrainingConfiguration(
      dataset: builtIn, samples: builtIn.map { samples ?? $0.defaultSamples }, dataFile: data,
      target: target, task: taskKind, hiddenLayers: layers.sizes, activation: activation,
      sigma: sigma, trainCenter: trainCenter, trainAmplitude: trainAmplitude,
      sigmaInit: sigmaInit.description, loss: resolvedLoss, optimizer: optimizer,
      learningRate: rate, epochs: epochs, batchSize: batchSize, validationSplit: validationSplit,
      seed: seed, precision: precision, patience: resolvedPatience,
      standardize: standardize ?? (data != nil),
      standardizeTarget: taskKind == .regression && (standardizeTarget ?? true),
      schedule: schedule, minDelta: minDelta)
    let ignored = ignore.isEmpty ? (fromBase ? base?.ignoredColumns ?? [] : []) : try ColumnList.names(ignore)
    if !ignored.isEmpty { configuration.ignoredColumns = ignored }
    let categoricalNames =
      categorical.isEmpty ? (fromBase ? base?.categoricalColumns ?? [] : []) : try ColumnList.names(categorical)
    if !categoricalNames.isEmpty { configuration.categoricalColumns = categoricalNames }
    if data != nil { configuration.missingValues = missing ?? .impute }
    // Piecewise-linear by default for regression on a file (docs/real-data.md), in one
    // process: over several, the bins would need the quantiles of every process's rows.
    let encoding =
      numericEncoding
      ?? (data != nil && taskKind == .regression && Processes.group == nil ? .piecewiseLinear : .plain)
    if let bins {
      guard encoding == .piecewiseLinear else {
        throw ValidationError("--bins applies only to --numeric-encoding piecewise-linear (the default for regression)")
      }
      guard (1...Self.maximumBins).contains(bins) else {
        throw ValidationError("--bins must be between 1 and \(Self.maximumBins), got \(bins)")
      }
    }
    if let binsMaxDistinct {
      guard encoding == .piecewiseLinear else {
        throw ValidationError("--bins-max-distinct applies only to --numeric-encoding piecewise-linear (the default for regression)")
      }
      guard binsMaxDistinct >= ColumnPlan.piecewiseMinimumDistinct else {
        throw ValidationError(
          "--bins-max-distinct must be at least \(ColumnPlan.piecewiseMinimumDistinct), got \(binsMaxDistinct)")
      }
    }
    if data != nil, encoding == .piecewiseLinear {
      configuration.numericEncoding = .piecewiseLinear
      configuration.bins = bins ?? Self.defaultBins
      // A run stored with the encoding but no limit had none.
      configuration.binsMaxDistinct = binsMaxDistinct ?? (fromBase ? nil : Self.defaultBinsMaxDistinct)
      // Asked for, the encoding is applied whatever it costs; by default, within a budget.
      configuration.binsCellLimit =
        fromBase ? base?.binsCellLimit : (self.numericEncoding == nil ? Self.defaultPiecewiseCells : nil)
    }
    if radial { configuration.radialFirstLayer = true }
    if radialLast { configuration.radialLastLayer = true }
    if let testSplit, testSplit > 0 { configuration.testSplit = testSplit }
    configuration.testDataFile = testData
    if validationSplit > 0 { configuration.finalModel = finalModel }
    if finalModel != .earlyStopped, refits != 1 { configuration.refits = refits }
    let smoothing =
      labelSmoothing ?? base.map { $0.labelSmoothing ?? 0 }
      ?? (resolvedLoss == .softmax ? Self.defaultLabelSmoothing : 0)
    guard smoothing >= 0, smoothing < 1 else {
      throw ValidationError("--label-smoothing must be in [0, 1), got \(smoothing)")
    }
    if smoothing > 0 {
      guard resolvedLoss == .softmax else {
        throw ValidationError("--label-smoothing needs --loss softmax (a classification task), not \(resolvedLoss.rawValue)")
      }
      configuration.labelSmoothing = smoothing
    }
    return configuration
  }

  /// The configuration of the run that `--resume` continues: read from the checkpoint's
  /// `training_config` entry, with the options given on the command line, which must equal
  /// the run's (`--data` may name the file's new place; `--output` and
  /// `--checkpoint-interval` are this run's own).
  ///
  /// - Throws: ``CLIError/invalidCheckpoint(path:reason:)`` for a file that is not a
  ///   checkpoint `bump train` wrote with a training state; `ValidationError` naming the
  ///   options given with other values than the run's.
  func resumedConfiguration(_ path: String) throws -> TrainingConfiguration {
    let header: Checkpoint.Header
    do {
      header = try Checkpoint.header(at: path)
    } catch {
      throw CLIError.invalidCheckpoint(path: path, reason: "cannot resume from it: \(error)")
    }
    guard let text = header.metadata["training_config"], let stored = try? TrainingConfiguration(json: text) else {
      throw CLIError.invalidCheckpoint(
        path: path, reason: "cannot resume from it: it holds no training configuration (it was not written by bump train)")
    }
    if header.metadata[TrainingRun<Float>.refitPhaseKey] != nil {
      // Without early stopping (--patience 0) the model held is the last epoch's.
      let finished = FinalModelRecord.trainingEnd(earlyStopping: stored.patience != nil)
      let held = FinalModelRecord.trainedModelName(earlyStopping: stored.patience != nil)
      throw CLIError.invalidCheckpoint(
        path: path,
        reason: "the run was stopped while its final model was refitted on all rows, after \(finished) had finished; a refit cannot be resumed. The checkpoint holds the \(held) (bump predict uses it); train again for the final model, or with --final-model early-stopped")
    }
    if header.metadata["status"] == "complete" {
      throw CLIError.invalidCheckpoint(
        path: path, reason: "the run finished (status complete); there is nothing to resume")
    }
    if header.metadata["final_model"] != nil {
      // Written once training is over: the run stopped while its results were computed.
      throw CLIError.invalidCheckpoint(
        path: path,
        reason: "training had finished: the checkpoint holds the run's final model (status \(header.metadata["status"] ?? "unknown")), stopped while its results were computed; bump predict and evaluate use it, and no training is left to resume")
    }
    guard header.metadata[Checkpoint.resumeStateKey] != nil else {
      throw CLIError.invalidCheckpoint(
        path: path,
        reason: "cannot resume from it: it holds no training state (written before training's first epoch ended, or by an earlier version)")
    }
    // As many processes as the run had, said before any option of the run is judged (a
    // one-process regression's piecewise-linear default would be refused first).
    if let problem = TrainingRun<Float>.processCountProblem(header.metadata) {
      throw CLIError.dataMismatch(path: path, reason: problem)
    }
    let merged = try resolvedConfiguration(base: stored)
    let differences = Self.differences(merged, stored)
    guard differences.isEmpty else {
      throw ValidationError(
        "--resume continues the run with its own options; "
          + differences.joined(separator: "; ")
          + ". Leave these options out (bump inspect \(path) lists the run's) or give the run's values")
    }
    return merged
  }

  /// The settings in which `given` differs from the run's `stored` configuration, named by
  /// their options ("--lr 0.01, the run's is 0.003"); the CSV file's path is not compared
  /// (the data itself is, when it is read).
  static func differences(_ given: TrainingConfiguration, _ stored: TrainingConfiguration) -> [String] {
    func normalized(_ c: TrainingConfiguration) -> [String: String] {
      var c = c
      c.dataFile = c.dataFile == nil ? nil : "-"
      c.schedule = c.schedule ?? .constant
      c.minDelta = c.minDelta ?? 0
      c.standardizeTarget = c.standardizeTarget ?? false
      c.radialFirstLayer = c.radialFirstLayer ?? false
      c.radialLastLayer = c.radialLastLayer ?? false
      c.testDataFile = c.testDataFile == nil ? nil : "-"
      if c.testSplit == 0 { c.testSplit = nil }
      if c.numericEncoding == .plain { c.numericEncoding = nil }
      if c.ignoredColumns?.isEmpty == true { c.ignoredColumns = nil }
      if c.categoricalColumns?.isEmpty == true { c.categoricalColumns = nil }
      if c.dataFile != nil, c.missingValues == nil { c.missingValues = .impute }
      if c.validationSplit > 0, c.finalModel == nil { c.finalModel = .earlyStopped }
      let encoder = JSONEncoder()
      encoder.keyEncodingStrategy = .convertToSnakeCase
      guard let data = try? encoder.encode(c),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { return [:] }
      return object.mapValues { value in
        (value as? [Any]).map { $0.map { "\($0)" }.joined(separator: ",") } ?? "\(value)"
      }
    }
    let options = [
      "hidden_layers": "--layers", "learning_rate": "--lr", "schedule": "--lr-schedule",
      "ignored_columns": "--ignore", "categorical_columns": "--categorical", "missing_values": "--missing",
      "radial_first_layer": "--radial", "radial_last_layer": "--radial-last",
      "data_file": "--data", "sigma_init": "--sigma-init",
      "test_data_file": "--test-data", "final_model": "--final-model",
      "numeric_encoding": "--numeric-encoding",
    ]
    let a = normalized(given), b = normalized(stored)
    return Set(a.keys).union(b.keys).sorted().compactMap { key in
      guard a[key] != b[key] else { return nil }
      let option = options[key] ?? "--" + key.replacingOccurrences(of: "_", with: "-")
      return "\(option) \(a[key] ?? "not set"), the run's is \(b[key] ?? "not set")"
    }
  }

  func run() throws {
    // Output piped into `head` must not kill the run halfway and leave a .partial folder:
    // with SIGPIPE ignored a closed pipe only makes the remaining output vanish, and the run
    // finishes, writes its folder and exits 0 (the output only showed progress).
    signal(SIGPIPE, SIG_IGN)
    Console.outputIsProgressOnly = true
    try train()
  }

  /// The run itself, without the process-wide settings ``run()`` makes first (SIGPIPE
  /// ignored, which every process started afterwards inherits, and progress-only output):
  /// what tests run in process.
  func train() throws {
    let configuration = try resume.map(resumedConfiguration) ?? resolvedConfiguration()
    // Beyond a year is never (and keeps the conversion in range).
    let seconds = min(checkpointInterval, 365 * 86_400)
    let interval = Duration.milliseconds(Int64((seconds * 1000).rounded()))
    switch configuration.precision {
    case .float:
      try TrainingRun<Float>(
        configuration: configuration, output: output, checkpointInterval: interval, resumeFrom: resume
      ).run()
    case .double:
      try TrainingRun<Double>(
        configuration: configuration, output: output, checkpointInterval: interval, resumeFrom: resume
      ).run()
    }
  }
}
