// Module Samplers. See docs/architecture.md for what lives here.
import TensorCore
