// `import Earshot` brings every layer: audio, features, the neural core.
@_exported import EarshotAudio
@_exported import EarshotFeatures
@_exported import EarshotNeural
