// The built-in layers, imported for their registrations (each file registers its layer with registry.ts).
import './linear';
import './activations';
import './dropout';
import './flatten';
import './layer-norm';
import './sequential';
import './conv';
import './pool';
import './graph';
